#!/bin/sh
# Create the claimguard SCRAM-SHA-512 user from the password secret, once:
#   docker compose -f deploy/compose.yaml exec kafka sh /etc/kafka/create-scram-user.sh
# The password goes through a private temporary file (printf is a shell builtin), never
# through a command line that `ps` would show.
set -eu
umask 077
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf 'SCRAM-SHA-512=[password=%s]\n' "$(cat /run/secrets/kafka_password)" > "$config"
/opt/kafka/bin/kafka-configs.sh --bootstrap-server kafka:19092 --alter \
    --add-config-file "$config" --entity-type users --entity-name claimguard
