#pragma once
/// \file
/// Finding the links of an HTML page: the `href` of every `<a>` tag.

#include <string>
#include <string_view>
#include <vector>

namespace corio_crawl {

/// The `href` values of the `<a>` tags of `html`, in order, as written (not resolved).
///
/// A scanner, not a parser: it finds tags by their '<', skips comments (`<!-- ... -->`)
/// and the contents of `<script>` and `<style>`, reads the attributes of each `<a>` tag
/// (tag and attribute names in any case; values in double quotes, single quotes or none),
/// trims the value, and decodes the entities `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&#39;`
/// and `&apos;` in it. Other tags (`<link href>`, `<area href>`) are ignored, and so is an
/// `<a>` without an `href`. Malformed HTML gives whatever links could be found.
[[nodiscard]] std::vector<std::string> extract_links(std::string_view html);

} // namespace corio_crawl
