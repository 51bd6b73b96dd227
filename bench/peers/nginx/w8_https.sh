#!/bin/sh
# W8 HTTPS hello peer: nginx (Debian's nginx-light) in one process (master_process off, so
# that the process bench/run starts, measures and stops is the one that serves), TLS 1.3
# with the certificate given, `return 200 "Hello, World!"`, access log off, keep-alive
# without a request limit.
#
#   w8_https.sh --port=PORT --cert=CERT --key=KEY [--dir=DIR]
set -eu
port= cert= key= dir=
for arg in "$@"; do
    case "$arg" in
    --port=*) port="${arg#--port=}" ;;
    --cert=*) cert="${arg#--cert=}" ;;
    --key=*) key="${arg#--key=}" ;;
    --dir=*) dir="${arg#--dir=}" ;;
    *) echo "usage: w8_https.sh --port=PORT --cert=CERT --key=KEY [--dir=DIR]" >&2; exit 2 ;;
    esac
done
nginx="$(command -v nginx || echo /usr/sbin/nginx)"
dir="${dir:-/tmp/corio-bench-nginx}/$port"
mkdir -p "$dir/tmp"
cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 100000000;
    server {
        listen 127.0.0.1:$port ssl;
        ssl_certificate $cert;
        ssl_certificate_key $key;
        ssl_protocols TLSv1.3;
        location / { default_type text/plain; return 200 "Hello, World!"; }
    }
}
CONF
exec "$nginx" -p "$dir" -c "$dir/nginx.conf"
