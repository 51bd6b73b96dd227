// Bodies in pieces: body_stream (reading one, from memory or from a source) and the sources
// a response can be sent from (an async generator, a stream, another body being read).

#include "corio/http/body.hpp"

#include "corio/http/message.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace corio::http {

body_source::~body_source() = default;

// --- body_stream --------------------------------------------------------------------------

body_stream::body_stream(std::string whole) : m_pending(std::move(whole)), m_eof(true) {}

body_stream::body_stream(std::unique_ptr<body_source> source, std::uint64_t max_whole)
    : m_source(std::move(source)), m_max_whole(max_whole) {
    if (!m_source) {
        throw std::invalid_argument("http::body_stream: null source");
    }
}

body_stream::body_stream(body_stream&&) noexcept = default;
body_stream& body_stream::operator=(body_stream&&) noexcept = default;
body_stream::~body_stream() = default;

task<> body_stream::refill() {
    if (m_offset != m_pending.size()) {
        co_return;
    }
    m_pending.clear();
    m_offset = 0;
    while (!m_eof && m_pending.empty()) {
        std::optional<std::string> piece = co_await m_source->next();
        if (!piece) {
            m_eof = true;
        } else {
            m_pending = std::move(*piece);
        }
    }
}

task<std::optional<std::string>> body_stream::next() {
    co_await refill();
    if (m_pending.empty()) {
        co_return std::nullopt;
    }
    co_return take(max_piece);
}

std::string body_stream::take(std::size_t max) {
    const std::size_t n = std::min(max, m_pending.size() - m_offset);
    std::string out;
    if (m_offset == 0 && n == m_pending.size()) {
        out = std::move(m_pending);
        m_pending.clear();
    } else {
        out = m_pending.substr(m_offset, n);
        m_offset += n;
        if (m_offset == m_pending.size()) {
            m_pending.clear();
            m_offset = 0;
        }
    }
    m_read += out.size();
    return out;
}

task<std::string> body_stream::read(std::size_t max) {
    if (max == 0) {
        throw std::invalid_argument("http::body_stream::read: max must be at least 1");
    }
    co_await refill();
    co_return take(max);
}

task<std::string> body_stream::read_all() {
    std::string all = m_offset == 0 ? std::move(m_pending) : m_pending.substr(m_offset);
    m_pending.clear();
    m_offset = 0;
    auto too_long = [this] {
        return protocol_error(413, "http: body longer than " + std::to_string(m_max_whole) +
                                       " bytes (the whole-body limit, limits::max_body)");
    };
    if (m_source != nullptr && all.size() > m_max_whole) {
        throw too_long();
    }
    while (!m_eof) {
        std::optional<std::string> piece = co_await m_source->next();
        if (!piece) {
            m_eof = true;
            break;
        }
        if (piece->size() > m_max_whole - std::min<std::uint64_t>(all.size(), m_max_whole)) {
            throw too_long();
        }
        all += *piece;
    }
    m_read += all.size();
    co_return all;
}

// --- Sources ------------------------------------------------------------------------------

namespace {

class generator_source final : public body_source {
public:
    explicit generator_source(async_generator<std::string> g) : m_pieces(std::move(g)) {}
    task<std::optional<std::string>> next() override {
        if (m_done) {
            co_return std::nullopt;
        }
        std::optional<std::string> piece = co_await m_pieces.next();
        m_done = !piece;
        co_return piece;
    }

private:
    async_generator<std::string> m_pieces;
    bool m_done = false;
};

class stream_source final : public body_source {
public:
    explicit stream_source(stream s) : m_stream(std::move(s)) {}
    stream_source(const stream_source&) = delete;
    stream_source& operator=(const stream_source&) = delete;
    ~stream_source() override {
        if (m_stream.valid()) {
            m_stream.abort();
        }
    }
    task<std::optional<std::string>> next() override {
        if (m_done) {
            co_return std::nullopt;
        }
        std::string piece = co_await m_stream.read(64 * 1024);
        if (piece.empty()) {
            m_done = true;
            m_stream.close();
            co_return std::nullopt;
        }
        co_return piece;
    }

private:
    stream m_stream;
    bool m_done = false;
};

class relay_source final : public body_source {
public:
    explicit relay_source(std::shared_ptr<body_stream> body) : m_body(std::move(body)) {}
    task<std::optional<std::string>> next() override { co_return co_await m_body->next(); }

private:
    std::shared_ptr<body_stream> m_body;
};

} // namespace

std::unique_ptr<body_source> source_from(async_generator<std::string> pieces) {
    return std::make_unique<generator_source>(std::move(pieces));
}

std::unique_ptr<body_source> source_from(stream s) {
    if (!s.valid()) {
        throw std::invalid_argument("http::source_from: a moved-from or closed stream");
    }
    return std::make_unique<stream_source>(std::move(s));
}

std::unique_ptr<body_source> source_from(std::shared_ptr<body_stream> body) {
    if (!body) {
        throw std::invalid_argument("http::source_from: null body_stream");
    }
    return std::make_unique<relay_source>(std::move(body));
}

// --- The messages' bodies in pieces --------------------------------------------------------

body_stream& request::body_stream() {
    if (!streamed_body) {
        streamed_body = std::make_shared<http::body_stream>(std::move(body));
        body.clear();
    }
    return *streamed_body;
}

body_stream& response::body_stream() {
    if (!streamed_body) {
        streamed_body = std::make_shared<http::body_stream>(std::move(body));
        body.clear();
    }
    return *streamed_body;
}

void response::stream_body(std::unique_ptr<body_source> source) {
    if (!body.empty()) {
        throw std::invalid_argument(
            "http::response::stream_body: the response has a body already (" +
            std::to_string(body.size()) + " bytes); a body is sent whole or in pieces");
    }
    streamed_body = std::make_shared<http::body_stream>(std::move(source));
}

void response::stream_body(async_generator<std::string> pieces) {
    stream_body(source_from(std::move(pieces)));
}

void response::stream_body(corio::stream s) {
    stream_body(source_from(std::move(s)));
}

} // namespace corio::http
