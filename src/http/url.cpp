#include "corio/http/url.hpp"
