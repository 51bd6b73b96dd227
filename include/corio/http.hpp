#pragma once
/// \file
/// corio's HTTP/1.1: the server (`http::serve`), the client (`http::client`), messages,
/// bodies in pieces, content codings, URLs and the parsers. See docs/http.md.

#include "corio/http/body.hpp"
#include "corio/http/client.hpp"
#include "corio/http/coding.hpp"
#include "corio/http/message.hpp"
#include "corio/http/parser.hpp"
#include "corio/http/router.hpp"
#include "corio/http/server.hpp"
#include "corio/http/url.hpp"
