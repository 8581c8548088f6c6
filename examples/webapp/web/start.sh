#!/bin/sh
# Writes the page that names this instance, then serves it. The instance name is
# $INSTANCE when the platform sets it, else the container's hostname (skiff and
# Compose both give every container its own).
name=${INSTANCE:-$(hostname)}
echo "$GREETING: web instance $name" > /var/www/index.html
echo "web instance $name serving on :8080"
exec httpd -f -p 8080 -h /var/www
