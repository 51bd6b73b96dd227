#pragma once
// Content codings applied by the server and removed by the client (RFC 9110 §8.4), on top
// of <corio/http/coding.hpp>'s encoders and decoders: a whole body at once, or a body in
// pieces through a body_source wrapping another.

#include "corio/http/coding.hpp"
#include "corio/http/message.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace corio::http::detail {

/// Compress `res` for `req` when the request accepts a coding and the response is worth it:
/// a type that compresses (text/*, JSON, JavaScript, XML, SVG, ...), at least `min_size`
/// bytes (a streamed body always), no Content-Encoding yet, a status with a body other than
/// 206, no `Cache-Control: no-transform`. Sets Content-Encoding, adds `Vary:
/// Accept-Encoding`, drops a Content-Length (the serializer frames the new body). A
/// streamed body is wrapped: each piece is flushed as it comes (server-sent events).
void compress_response(const request& req, response& res, std::size_t min_size);

/// A body whose pieces are `coded`'s decoded: `applied` undone, the last coding first. The
/// decoded pieces are at most 64 KiB each, and the coded input is fed in small steps so
/// that a piece that decodes to much (a bomb) is never decoded whole at once. Errors are
/// protocol_error with `prefix` ("http client: GET http://a/: ") in front. A body coded
/// more than once (`gzip, br`) is decoded in bounded steps by its first decoder only; the
/// others may produce at most `max_chained` bytes in all (413 past it).
std::unique_ptr<body_source> decoding_source(std::shared_ptr<body_stream> coded,
                                             std::vector<content_coding> applied,
                                             std::string prefix, std::size_t max_chained);

} // namespace corio::http::detail
