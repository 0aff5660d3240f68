#!/usr/bin/env bash
# The multi-host test bed of tests/cluster/ (four network namespaces on a bridge, an
# engine in each, verified traffic and fault scenarios) as one CTest test.
#
#   bash tests/test_cluster.sh BUILD_DIR
exec bash "$(dirname "${BASH_SOURCE[0]}")/cluster/cluster.sh" "$@"
