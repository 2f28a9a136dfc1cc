#include "wire/fulfilment.h"

#include "base/assert.h"

namespace eleven::wire {

namespace {

template <typename T>
bool TailZero(const T& record) {
  return AllZero(record.reserved, sizeof(record.reserved));
}

// Every field named reserved* of each record must be zero.
bool ReservedZero(const Command& command) {
  switch (static_cast<uint8_t>(command.operation)) {
    case static_cast<uint8_t>(kCreateWarehouse): {
      auto r = AsRecord<CreateWarehouse>(command);
      return r.reserved0 == 0 && TailZero(r);
    }
    case static_cast<uint8_t>(kStockWarehouse): {
      auto r = AsRecord<StockWarehouse>(command);
      return AllZero(r.reserved0, sizeof(r.reserved0)) && TailZero(r);
    }
    case static_cast<uint8_t>(kCreateCourier): {
      auto r = AsRecord<CreateCourier>(command);
      return r.reserved0 == 0 && TailZero(r);
    }
    case static_cast<uint8_t>(kSetCoverage): {
      auto r = AsRecord<SetCoverage>(command);
      return AllZero(r.reserved0, sizeof(r.reserved0)) && TailZero(r);
    }
    case static_cast<uint8_t>(kSetRegionPoint): {
      auto r = AsRecord<SetRegionPoint>(command);
      return r.reserved0 == 0 && r.reserved1 == 0 && TailZero(r);
    }
    case static_cast<uint8_t>(kShipOrder): {
      auto r = AsRecord<ShipOrder>(command);
      return r.reserved0 == 0 && TailZero(r);
    }
    case static_cast<uint8_t>(kTrackParcel): {
      auto r = AsRecord<TrackParcel>(command);
      return r.reserved0 == 0 && TailZero(r);
    }
  }
  ELEVEN_ASSERT(false);  // the caller checked the operation is defined
}

}  // namespace

Code CheckFulfilmentStructure(const Command& command) {
  auto op = static_cast<uint8_t>(command.operation);
  if (op < kFulfilmentOperationMin || op > kFulfilmentOperationLast) {
    return Code::invalid_operation;
  }
  return ReservedZero(command) && TrailerReservedZero(command) ? Code::ok : Code::reserved_nonzero;
}

}  // namespace eleven::wire
