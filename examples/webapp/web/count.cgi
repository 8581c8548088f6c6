#!/bin/sh
# GET /cgi-bin/count: how far the batch job has counted (the shared volume).
printf 'Content-Type: text/plain\r\n\r\n'
echo "instance $(hostname): batch count $(cat /shared/count 2>/dev/null || echo none)"
