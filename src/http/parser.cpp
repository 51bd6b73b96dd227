#include "corio/http/parser.hpp"
