#include "corio/http/server.hpp"
