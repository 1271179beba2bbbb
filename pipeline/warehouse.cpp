// pipeline/warehouse.cpp: the choice of backend.
#include "pipeline/warehouse.hpp"

#include "pipeline/error.hpp"
#include "pipeline/postgres_warehouse.hpp"
#include "pipeline/snowflake_warehouse.hpp"

namespace pipeline {

std::unique_ptr<Warehouse> make_warehouse(const DestinationConfig& destination,
                                          const WarehouseSession& session) {
    switch (destination.kind) {
        case DestinationKind::postgres:
            return std::make_unique<PostgresWarehouse>(destination, session.application_name);
        case DestinationKind::snowflake:
            return std::make_unique<SnowflakeWarehouse>(destination, session);
    }
    throw Error(ErrorKind::internal, "unknown destination kind");
}

}  // namespace pipeline
