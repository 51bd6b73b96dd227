// The HTTP/1.1 serializers (RFC 9112): a message in, its bytes appended to a string. They own
// the framing: the Content-Length and Transfer-Encoding fields a message is written with
// are decided (framing_plan) from its fields and its body before a byte is appended, and a
// message whose fields disagree with its body is refused, not repaired.

#include "corio/http/parser.hpp"

#include "syntax.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

namespace corio::http {

namespace {

using detail::for_each_coding;
using detail::iequals;
using detail::is;
using detail::length_parse;
using detail::parse_length;
using detail::skip;
using detail::target_char;
using detail::token_char;

void append_decimal(std::string& out, std::uint64_t n) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, r.ptr);
}

/// Append `text` with any CR, LF or NUL written as a space: a value can never end a line
/// early (response splitting).
void append_safe(std::string& out, std::string_view text) {
    const std::size_t start = out.size();
    out += text;
    // Usually there is nothing to replace. skip() reaching the end means no word holds a
    // byte below 0x0e and no byte after the words is a control byte (other than a tab):
    // no CR, LF or NUL.
    if (skip(text.data(), text.data() + text.size(), 0xff, 0x0e) == text.data() + text.size()) {
        return;
    }
    for (std::size_t i = start; i < out.size(); ++i) {
        const char c = out[i];
        if (c == '\r' || c == '\n' || c == '\0') {
            out[i] = ' ';
        }
    }
}

std::size_t fields_size(const headers& h) noexcept {
    std::size_t n = 0;
    for (const auto& [name, value] : h) {
        n += name.size() + value.size() + 4;
    }
    return n;
}

bool is_length_name(std::string_view name) noexcept {
    return name.size() == 14 && iequals(name, "content-length");
}

bool is_coding_name(std::string_view name) noexcept {
    return name.size() == 17 && iequals(name, "transfer-encoding");
}

/// How the serializer frames a message (RFC 9112 §6), decided from its fields and body
/// before a byte is written.
struct framing_plan {
    /// Content-Length is written: one field, in place of the message's first one (or after
    /// its fields when it has none), with this value.
    bool length = false;
    std::uint64_t length_value = 0;
    /// The message's Transfer-Encoding fields are written (and the body chunked).
    bool codings = false;
};

/// `message` in the serializer's errors: "the response", "the request".
[[noreturn]] void refuse(std::string_view message, const std::string& what) {
    throw std::invalid_argument("http: " + std::string(message) + what);
}

/// Decide the framing of a message with fields `h` and a body of `body_size` bytes.
/// `framed`: false for a message that has no framing at all (1xx, 204: RFC 9110 §8.6 and
/// RFC 9112 §6.1 say such a response carries neither field), whose Content-Length and
/// Transfer-Encoding are dropped. `body_sent`: whether the body goes on the wire (not in an
/// answer to HEAD or a 304, whose Content-Length may describe the body a GET would get).
/// `http_1_0`: the message is HTTP/1.0, which has no Transfer-Encoding; `downgrade_chunked`:
/// the peer is HTTP/1.0, so a Transfer-Encoding of chunked alone is replaced by the length.
/// `add_length`: whether a message without framing fields gets a Content-Length.
/// \throws std::invalid_argument when the fields disagree with the body or with HTTP/1.1.
framing_plan plan_framing(const headers& h, std::size_t body_size, std::string_view message,
                          bool framed, bool body_sent, bool http_1_0, bool downgrade_chunked,
                          bool add_length) {
    framing_plan plan;
    if (!framed) {
        return plan;
    }
    std::string_view first_length;
    bool has_length = false;
    bool has_coding = false;
    std::uint64_t length = 0;
    for (const auto& [name, value] : h) {
        if (is_length_name(name)) {
            std::uint64_t n = 0;
            const length_parse r = parse_length(value, n);
            if (r == length_parse::not_a_number) {
                refuse(message, "'s Content-Length '" + value + "' is not a decimal number");
            }
            if (r == length_parse::differs || (has_length && n != length)) {
                refuse(message, " has Content-Length fields that differ ('" +
                                    std::string(has_length ? first_length : value) + "', '" +
                                    value + "')");
            }
            if (!has_length) {
                first_length = value;
            }
            has_length = true;
            length = n;
        } else if (is_coding_name(name)) {
            has_coding = true;
        }
    }
    if (has_coding) {
        if (has_length) {
            refuse(message, " has both Content-Length and Transfer-Encoding (RFC 9112 §6.2)");
        }
        // The codings, in order, must end in chunked, which the serializer applies; those
        // before it (gzip, ...) are the sender's, already applied to the body.
        std::size_t codings = 0;
        std::size_t chunked = 0;
        std::string_view last;
        std::string all;
        for (const std::string_view value : h.get_all("Transfer-Encoding")) {
            if (!all.empty()) {
                all += ", ";
            }
            all += value;
            for_each_coding(value, [&](std::string_view item, bool has_parameter) {
                ++codings;
                last = item;
                if (iequals(item, "chunked")) {
                    ++chunked;
                    if (has_parameter) {
                        refuse(message, "'s Transfer-Encoding '" + all +
                                            "' gives chunked a parameter (RFC 9112 §7.1)");
                    }
                }
            });
        }
        if (codings == 0 || !iequals(last, "chunked") || chunked > 1) {
            refuse(message, "'s Transfer-Encoding '" + all +
                                "' does not end in chunked, once (the serializer frames the "
                                "body only by its length or as chunked)");
        }
        if (http_1_0) {
            refuse(message, " is HTTP/1.0 and has a Transfer-Encoding ('" + all + "')");
        }
        if (downgrade_chunked) {
            if (codings > 1) {
                refuse(message, "'s Transfer-Encoding '" + all +
                                    "' cannot go to an HTTP/1.0 peer (it has no transfer codings)");
            }
            plan.length = true; // the body is whole: its length frames it as well
            plan.length_value = body_size;
            return plan;
        }
        plan.codings = true;
        return plan;
    }
    if (has_length) {
        // Without a body on the wire, an empty body leaves the Content-Length as given (the
        // length of what a GET would get); a body present must agree with it.
        if (length != body_size && (body_sent || body_size != 0)) {
            refuse(message, "'s Content-Length (" + std::to_string(length) +
                                ") disagrees with its body (" + std::to_string(body_size) +
                                " bytes)");
        }
        plan.length = true;
        plan.length_value = length;
        return plan;
    }
    if (add_length) {
        plan.length = true;
        plan.length_value = body_size;
    }
    return plan;
}

void append_content_length(std::string& out, std::uint64_t n) {
    out += "Content-Length: ";
    append_decimal(out, n);
    out += "\r\n";
}

/// The fields of `h` framed as `plan` says: its Content-Length fields give way to one
/// computed field, its Transfer-Encoding fields are written only if the plan keeps them.
void append_fields(std::string& out, const headers& h, const framing_plan& plan) {
    bool length_written = false;
    for (const auto& [name, value] : h) {
        if (is_length_name(name)) {
            if (plan.length && !length_written) {
                append_content_length(out, plan.length_value);
                length_written = true;
            }
            continue;
        }
        if (!plan.codings && is_coding_name(name)) {
            continue;
        }
        append_safe(out, name);
        out += ": ";
        append_safe(out, value);
        out += "\r\n";
    }
    if (plan.length && !length_written) {
        append_content_length(out, plan.length_value);
    }
}

/// The body as is, or as one chunk and the last chunk when the fields say chunked.
void append_body(std::string& out, std::string_view body, bool chunked) {
    if (!chunked) {
        out += body;
        return;
    }
    if (!body.empty()) {
        char buf[24];
        const auto r = std::to_chars(buf, buf + sizeof buf, body.size(), 16);
        out.append(buf, r.ptr);
        out += "\r\n";
        out += body;
        out += "\r\n";
    }
    out += "0\r\n\r\n";
}

} // namespace

void serialize(const response& r, std::string& out, bool head_only) {
    detail::serialize_response(r, out, head_only, false, {});
}

namespace {

/// serialize_response, or (`body_follows`) the head of a response whose body is sent after
/// it: its framing fields as given, none added, no body written.
void write_response(const response& r, std::string& out, bool head_only, bool to_http_1_0,
                    std::initializer_list<std::string_view> extra_fields, bool body_follows) {
    if (r.status < 100 || r.status > 999) {
        throw std::invalid_argument("http: the response's status " + std::to_string(r.status) +
                                    " is not a three-digit code (RFC 9110 §15)");
    }
    const bool framed = r.status >= 200 && r.status != 204;
    const bool body_sent = framed && r.status != 304 && !head_only && !body_follows;
    const framing_plan plan =
        plan_framing(r.headers, r.body.size(), "the response", framed, body_sent,
                     r.version_minor == 0, to_http_1_0, r.status != 304 && !body_follows);
    std::size_t extra = 0;
    for (const std::string_view field : extra_fields) {
        extra += field.size();
    }
    out.reserve(out.size() + 64 + r.reason.size() + extra + fields_size(r.headers) +
                (body_sent ? r.body.size() : 0));
    out += r.version_minor == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_decimal(out, static_cast<std::uint64_t>(r.status));
    out += ' ';
    if (r.reason.empty()) {
        out += reason_phrase(r.status);
    } else {
        append_safe(out, r.reason);
    }
    out += "\r\n";
    for (const std::string_view field : extra_fields) {
        out += field;
    }
    append_fields(out, r.headers, plan);
    out += "\r\n";
    if (body_sent) {
        append_body(out, r.body, plan.codings);
    }
}

} // namespace

void detail::serialize_response(const response& r, std::string& out, bool head_only,
                                bool to_http_1_0,
                                std::initializer_list<std::string_view> extra_fields) {
    write_response(r, out, head_only, to_http_1_0, extra_fields, false);
}

void detail::serialize_response_head(const response& r, std::string& out, bool to_http_1_0,
                                     std::initializer_list<std::string_view> extra_fields) {
    write_response(r, out, false, to_http_1_0, extra_fields, true);
}

namespace {

/// A request whole, or (`head_only`) its head with the framing fields as given, for a body
/// to follow.
void serialize_request(const request& r, std::string& out, bool head_only) {
    if (r.method.empty() ||
        std::any_of(r.method.begin(), r.method.end(), [](char c) { return !is(c, token_char); })) {
        throw std::invalid_argument("http: the request's method '" + r.method +
                                    "' is not a token (RFC 9110 §9.1)");
    }
    if (r.target.empty()) {
        throw std::invalid_argument("http: the request's target is empty");
    }
    const bool wants_length = !head_only && (!r.body.empty() || r.method == "POST" ||
                                             r.method == "PUT" || r.method == "PATCH");
    const framing_plan plan = plan_framing(r.headers, r.body.size(), "the request", true,
                                           !head_only, r.version_minor == 0, false, wants_length);
    out.reserve(out.size() + 64 + r.method.size() + r.target.size() + fields_size(r.headers) +
                r.body.size());
    out += r.method;
    out += ' ';
    // A byte that would end the target early is percent-encoded.
    for (const char c : r.target) {
        if (is(c, target_char)) {
            out += c;
        } else {
            constexpr std::string_view hex = "0123456789ABCDEF";
            const auto u = static_cast<unsigned char>(c);
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    out += r.version_minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n";
    append_fields(out, r.headers, plan);
    out += "\r\n";
    if (!head_only) {
        append_body(out, r.body, plan.codings);
    }
}

} // namespace

void serialize(const request& r, std::string& out) {
    serialize_request(r, out, false);
}

void detail::serialize_request_head(const request& r, std::string& out) {
    serialize_request(r, out, true);
}
} // namespace corio::http
