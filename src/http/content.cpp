// Content codings applied by the server and removed by the client: see content.hpp.

#include "content.hpp"

#include "common.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace corio::http::detail {

namespace {

/// The most a decoded piece of a body holds.
constexpr std::size_t decoded_piece = 64 * 1024;

/// Whether a body of this media type is worth compressing: text, and the structured text
/// formats sent as application/* (already compressed formats, images, video are not).
bool compressible(std::string_view content_type) noexcept {
    std::string_view type = trim_ows(content_type.substr(0, content_type.find(';')));
    if (type.size() > 5 && ascii_iequals(type.substr(0, 5), "text/")) {
        return true;
    }
    static constexpr std::array<std::string_view, 9> listed = {
        "application/json",     "application/javascript", "application/x-javascript",
        "application/xml",      "application/xhtml+xml",  "application/wasm",
        "application/x-ndjson", "image/svg+xml",          "application/graphql",
    };
    for (const std::string_view t : listed) {
        if (ascii_iequals(type, t)) {
            return true;
        }
    }
    const auto ends_with = [&](std::string_view suffix) {
        return type.size() > suffix.size() &&
               ascii_iequals(type.substr(type.size() - suffix.size()), suffix);
    };
    return ends_with("+json") || ends_with("+xml");
}

/// A body's pieces, each encoded with `c` and flushed, then the end of the coded stream.
class encoding_source final : public body_source {
public:
    encoding_source(std::shared_ptr<body_stream> plain, content_coding c)
        : m_plain(std::move(plain)), m_encoder(c) {}

    task<std::optional<std::string>> next() override {
        while (!m_done) {
            std::optional<std::string> piece = co_await m_plain->next();
            std::string out;
            if (!piece) {
                m_encoder.finish(out);
                m_done = true;
            } else {
                m_encoder.feed(*piece, out);
                m_encoder.flush(out); // the client can decode this piece now
            }
            if (!out.empty()) {
                co_return out;
            }
        }
        co_return std::nullopt;
    }

private:
    std::shared_ptr<body_stream> m_plain;
    encoder m_encoder;
    bool m_done = false;
};

/// A coded body's pieces, decoded (see decoding_source in content.hpp).
class decoding_source final : public body_source {
public:
    decoding_source(std::shared_ptr<body_stream> coded, std::vector<content_coding> applied,
                    std::string prefix, std::size_t max_chained)
        : m_coded(std::move(coded)), m_prefix(std::move(prefix)) {
        // The last coding applied is undone first. Only the first decoder works in bounded
        // steps; the ones after it (a body coded twice, which is rare) are bounded in all.
        for (auto it = applied.rbegin(); it != applied.rend(); ++it) {
            m_decoders.emplace_back(*it, m_decoders.empty() ? static_cast<std::size_t>(-1)
                                                            : max_chained);
        }
    }

    task<std::optional<std::string>> next() override {
        try {
            while (true) {
                if (m_output.size() >= decoded_piece) {
                    co_return take();
                }
                if (m_offset < m_input.size() || m_held) {
                    step();
                    continue;
                }
                if (!m_output.empty()) {
                    co_return take(); // what is decoded goes before waiting for more
                }
                if (m_ended) {
                    co_return std::nullopt;
                }
                std::optional<std::string> coded = co_await m_coded->next();
                if (!coded) {
                    finish();
                    m_ended = true;
                } else {
                    m_input = std::move(*coded);
                    m_offset = 0;
                }
            }
        } catch (const protocol_error& e) {
            throw protocol_error(e.status(), m_prefix + e.what());
        }
    }

private:
    std::string take() {
        std::string piece;
        piece.swap(m_output);
        return piece;
    }

    /// Decode a step of the pending input through every decoder into m_output: the first
    /// decoder appends no more than fills the piece, and may hold more back (m_held).
    void step() {
        const std::size_t room = decoded_piece - m_output.size();
        std::string stage;
        m_offset +=
            m_decoders.front().feed_some(std::string_view(m_input).substr(m_offset), stage, room);
        m_held = stage.size() == room;
        if (m_offset == m_input.size()) {
            m_input.clear();
            m_offset = 0;
        }
        for (std::size_t i = 1; i < m_decoders.size(); ++i) {
            std::string next;
            m_decoders[i].feed(stage, next);
            stage.swap(next);
        }
        m_output += stage;
    }

    void finish() {
        std::string stage;
        m_decoders.front().finish(stage);
        for (std::size_t i = 1; i < m_decoders.size(); ++i) {
            std::string next;
            m_decoders[i].feed(stage, next);
            m_decoders[i].finish(next);
            stage.swap(next);
        }
        m_output += stage;
    }

    std::shared_ptr<body_stream> m_coded;
    std::vector<decoder> m_decoders;
    std::string m_prefix;
    std::string m_input;
    std::size_t m_offset = 0;
    std::string m_output;
    bool m_held = false; // the first decoder may hold decoded bytes back
    bool m_ended = false;
};

} // namespace

void compress_response(const request& req, response& res, std::size_t min_size) {
    if (res.status < 200 || res.status == 204 || res.status == 206 || res.status == 304 ||
        res.headers.contains("Content-Encoding")) {
        return;
    }
    const std::optional<std::string_view> type = res.headers.get("Content-Type");
    if (!type || !compressible(*type) || res.headers.has_token("Cache-Control", "no-transform")) {
        return;
    }
    if (!res.streamed_body && res.body.size() < min_size) {
        return;
    }
    static constexpr std::array<content_coding, 3> offers = {
        content_coding::br, content_coding::gzip, content_coding::deflate};
    // The response depends on Accept-Encoding whether or not it is coded this time.
    if (!res.headers.has_token("Vary", "accept-encoding") && !res.headers.has_token("Vary", "*")) {
        res.headers.add("Vary", "Accept-Encoding");
    }
    const content_coding c = choose_coding(req.headers.get("Accept-Encoding"), offers);
    if (c == content_coding::identity) {
        return;
    }
    res.headers.set("Content-Encoding", std::string(coding_name(c)));
    res.headers.erase("Content-Length");
    if (res.streamed_body) {
        res.streamed_body = std::make_shared<body_stream>(
            std::make_unique<encoding_source>(std::move(res.streamed_body), c));
        return;
    }
    res.body = encode(c, res.body);
}

std::unique_ptr<body_source> decoding_source(std::shared_ptr<body_stream> coded,
                                             std::vector<content_coding> applied,
                                             std::string prefix, std::size_t max_chained) {
    return std::make_unique<class decoding_source>(std::move(coded), std::move(applied),
                                                   std::move(prefix), max_chained);
}

} // namespace corio::http::detail
