#include "corio/http/client.hpp"
