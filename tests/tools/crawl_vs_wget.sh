#!/usr/bin/env bash
# corio-crawl against nginx serving a directory over HTTPS on 127.0.0.1, beside wget on the
# same site: the pages corio-crawl counts must be the pages wget -r downloads.
#
#   crawl_vs_wget.sh CORIO_CRAWL
#
# The site: 240 linked HTML pages in nested directories, written in the link forms a
# crawler must resolve (relative, ../, absolute paths, whole URLs, fragments), plus links to
# missing pages, to another host and to mailto:. The certificate: self-signed for localhost,
# made with openssl, trusted by both crawlers through their CA-file option. Exits 77 (a
# skip) when nginx, wget, openssl or python3 is missing.
set -euo pipefail

crawl="$1"
for tool in nginx wget openssl python3; do
    if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$tool" ]]; then
        echo "crawl_vs_wget: $tool is not installed (Debian: nginx-light, wget, openssl, python3)"
        exit 77
    fi
done
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

work="$(mktemp -d /tmp/corio-crawl-nginx-XXXXXX)"
nginx_pid=""
cleanup() {
    if [[ -n "$nginx_pid" ]]; then
        kill "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# The site.
python3 - "$work/site" <<'EOF'
import os, random, sys
root = sys.argv[1]
random.seed(11)
n = 240
def path(i):
    return "/index.html" if i == 0 else f"/s{i % 7}/d{i % 3}/p{i}.html"
def rel(frm, to):
    return os.path.relpath(to, os.path.dirname(frm))
for i in range(n):
    p = path(i)
    links = []
    for j in (4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4):
        if j < n:
            form = j % 4
            if form == 0:
                links.append(path(j))
            elif form == 1:
                links.append(rel(p, path(j)))
            elif form == 2:
                links.append("https://localhost:PORT" + path(j) + "#top")
            else:
                links.append("./" + rel(p, path(j)) if not rel(p, path(j)).startswith("..") else rel(p, path(j)))
    links.append(path(random.randrange(1, n)))  # never /index.html: "/" is the root
    if i % 40 == 5:
        links.append(f"/gone/{i}.html")
    if i % 50 == 7:
        links.append("https://example.org/elsewhere.html")
        links.append("mailto:someone@example.org")
    body = "".join(f'<p><a href="{h}">link</a></p>\n' for h in links)
    os.makedirs(os.path.dirname(root + p), exist_ok=True)
    with open(root + p, "w") as f:
        f.write(f"<!doctype html>\n<html><head><title>page {i}</title></head><body>\n{body}</body></html>\n")
EOF

chmod 755 "$work"
chmod -R a+rX "$work/site" # nginx's worker runs as nobody when started by root
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
grep -rl "localhost:PORT" "$work/site" | xargs sed -i "s/localhost:PORT/localhost:$port/g"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    types { text/html html; }
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        root $work/site;
        index index.html;
    }
}
EOF
"$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 1 100); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "crawl_vs_wget: nginx did not start:"
        cat "$work/nginx/logs/error.log"
        exit 1
    fi
    python3 -c "import select; select.select([], [], [], 0.05)"
done

url="https://localhost:$port/"
"$crawl" "$url" --cafile "$work/cert.pem" --quiet --workers 8 >"$work/crawl.txt"
cat "$work/crawl.txt"
pages="$(awk '$1 == "pages" {print $2}' "$work/crawl.txt")"
tls_errors="$(grep -c "TLS:" "$work/crawl.txt" || true)"

# wget -r: every page it can reach on the host, saved under $work/wget.
(cd "$work" && wget --recursive --level=inf --no-verbose --ca-certificate="$work/cert.pem" \
    --directory-prefix=wget "$url" >"$work/wget.txt" 2>&1 || true)
wget_pages="$(find "$work/wget" -type f -name '*.html' | wc -l)"
echo "corio-crawl: $pages pages; wget: $wget_pages pages; site: 240 pages"

if [[ "$tls_errors" != 0 ]]; then
    echo "crawl_vs_wget: corio-crawl reported TLS errors"
    exit 1
fi
if [[ "$pages" != "$wget_pages" || "$pages" != 240 ]]; then
    echo "crawl_vs_wget: the page counts differ"
    tail -20 "$work/wget.txt"
    exit 1
fi
echo "crawl_vs_wget: the same 240 pages"
