// SPDX-License-Identifier: Apache-2.0
// The compiled part of switchyard::postgres (SWITCHYARD_WITH_POSTGRES): PostgresRegistryStore on
// libpq.
#include <switchyard/registry/postgres_registry_store-inl.hpp>
