#include "corio/http/message.hpp"
