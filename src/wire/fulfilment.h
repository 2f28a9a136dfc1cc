// Fulfilment command and query records: warehouses, couriers and lanes, region points,
// shipments of paid orders, tracking events. Fixed-size, little-endian, no implicit padding;
// the grammar and the meaning of every field are in docs/fulfilment.md.
//
// Every command is wire::kCommandSize bytes and starts with its operation byte (numbers
// 64..95, the fulfilment block of wire::Operation); reserved bytes must be zero so later
// versions can give them meaning. A command travels inside a wire::Command (its `bytes`);
// AsRecord<T>() copies it out into the record named by its operation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "wire/records.h"

namespace eleven::wire {

inline constexpr Operation kCreateWarehouse = static_cast<Operation>(64);
inline constexpr Operation kStockWarehouse = static_cast<Operation>(65);
inline constexpr Operation kCreateCourier = static_cast<Operation>(66);
inline constexpr Operation kSetCoverage = static_cast<Operation>(67);
inline constexpr Operation kSetRegionPoint = static_cast<Operation>(68);
inline constexpr Operation kShipOrder = static_cast<Operation>(69);
inline constexpr Operation kTrackParcel = static_cast<Operation>(70);
inline constexpr uint8_t kFulfilmentOperationMin = 64;
inline constexpr uint8_t kFulfilmentOperationLast = 70;  // the last one defined so far
inline constexpr uint8_t kFulfilmentOperationMax = 95;   // the end of the fulfilment block

// Coordinates are integer kilometres on a flat grid (east, north); the bound keeps squared
// distances far inside int64 and covers China (about 5,000 km across) with room for
// overseas bonded sites.
inline constexpr int32_t kCoordinateMaxKm = 20'000;
inline constexpr uint16_t kCityCodeMax = 9'999;  // city within a province: 4 decimal digits
inline constexpr uint32_t kWarehouseCapacityMax = 100'000'000;  // parcels per hour or day
inline constexpr uint32_t kCourierCapacityMax = 100'000'000;    // parcels per hour
inline constexpr int64_t kCourierCostMaxFen = 1'000'000;        // 10,000 yuan per parcel
inline constexpr uint8_t kPromisedDaysMax = 60;                 // rail to Europe takes ~20
inline constexpr size_t kCourierNameSize = 16;
// Coverage is set in blocks of 512 regions (64 bytes of bitmap fit one record); regions are
// 1..kRegionMax, so blocks 0 and 1 cover them all.
inline constexpr uint32_t kCoverageBlockRegions = 512;
inline constexpr uint8_t kCoverageBlockCount = 2;
// Tracking events a parcel's timeline keeps (the allocation counts as the first): a plain
// journey is 8 (allocated, picked, packed, handed, departed, arrived, out, delivered); each
// further hub adds two, each exception one; 16 leaves room for four more hubs or retries.
inline constexpr uint32_t kTimelineEventCountMax = 16;
// A shipment has at most one parcel per order line (lines are never split).
inline constexpr uint32_t kShipmentParcelCountMax = kOrderLineCountMax;

enum class WarehouseFlags : uint8_t { kBonded = 1 };  // bonded: holds cross-border goods
inline constexpr uint8_t kWarehouseFlagsAll = 1;

// How a courier carries: domestic express companies, or a cross-border lane.
enum class CourierMode : uint8_t { kExpress = 1, kCharterAir = 2, kEuropeRail = 3 };
inline constexpr uint8_t kCourierModeMax = 3;

// A parcel's state; a tracking event moves a parcel into the state with the same number.
enum class ParcelState : uint8_t {
  kNone = 0,
  kAllocated = 1,  // waybill issued; the only state not reached by an event
  kPicked = 2,
  kPacked = 3,
  kHandedToCourier = 4,
  kDepartedHub = 5,
  kArrivedHub = 6,
  kOutForDelivery = 7,
  kDelivered = 8,  // terminal
  kException = 9,
  kReturned = 10,  // terminal
  kCancelled = 11,  // terminal: the paid order was cancelled before the parcel shipped
};
inline constexpr uint8_t kParcelStateMax = 11;
inline constexpr uint8_t kTrackingEventMin = 2;  // picked; allocated is not an event
inline constexpr uint8_t kTrackingEventMax = 10;  // returned; cancelled is not an event

struct CreateWarehouse {
  Operation operation;  // kCreateWarehouse
  uint8_t flags;        // WarehouseFlags
  uint16_t city;        // 0 .. kCityCodeMax, within the province
  uint16_t region;      // province code 1 .. kRegionMax
  uint16_t reserved0;
  uint64_t warehouse_id;     // nonzero
  int32_t x_km;              // -kCoordinateMaxKm .. kCoordinateMaxKm
  int32_t y_km;              // idem
  uint32_t hourly_capacity;  // outbound parcels per hour, 1 .. kWarehouseCapacityMax
  uint32_t daily_capacity;   // outbound parcels per day, hourly .. kWarehouseCapacityMax
  uint8_t reserved[88];
  Trailer trailer;  // issuer (docs/access.md)
};

struct StockWarehouse {
  Operation operation;  // kStockWarehouse
  uint8_t reserved0[3];
  uint32_t units;  // added to the warehouse's stock of the SKU, 1 .. kStockMax
  uint64_t warehouse_id;
  uint64_t sku_id;  // nonzero
  uint8_t reserved[96];
  Trailer trailer;  // issuer (docs/access.md)
};

struct CreateCourier {
  Operation operation;    // kCreateCourier
  CourierMode mode;       // express (domestic) or a cross-border lane
  uint8_t promised_days;  // 1 .. kPromisedDaysMax
  uint8_t reserved0;
  uint32_t hourly_capacity;  // parcels per hour, 1 .. kCourierCapacityMax
  uint64_t courier_id;       // nonzero
  char name[kCourierNameSize];  // printable ASCII, NUL-padded, at least one character
  int64_t cost_fen;             // per parcel, 1 .. kCourierCostMaxFen
  uint64_t waybill_first;       // the courier's waybill numbers: [first, first + count)
  uint64_t waybill_count;       // nonzero; ranges of two couriers never overlap
  uint8_t reserved[64];
  Trailer trailer;  // issuer (docs/access.md)
};

struct SetCoverage {
  Operation operation;  // kSetCoverage
  uint8_t block;        // 0 .. kCoverageBlockCount-1: regions [block*512, block*512+512)
  uint8_t reserved0[6];
  uint64_t courier_id;
  uint64_t bits[8];  // bit i of the block (bits[i/64] >> i%64) = covers region block*512+i
  uint8_t reserved[40];
  Trailer trailer;  // issuer (docs/access.md)
};

struct SetRegionPoint {
  Operation operation;  // kSetRegionPoint
  uint8_t reserved0;
  uint16_t region;  // 1 .. kRegionMax
  uint32_t reserved1;
  int32_t x_km;  // the region's delivery centroid; see docs/fulfilment.md for the default
  int32_t y_km;
  uint8_t reserved[104];
  Trailer trailer;  // issuer (docs/access.md)
};

// A paid order to ship (what the order engine hands over, as a record).
struct ShipOrder {
  Operation operation;  // kShipOrder
  uint8_t line_count;   // 1 .. kOrderLineCountMax
  uint8_t city_tier;    // 1 .. kCityTierMax
  uint8_t cross_border;  // 0 or 1: ship from a bonded warehouse by a cross-border lane
  uint16_t region;       // buyer's province, 1 .. kRegionMax
  uint16_t reserved0;
  uint64_t order_id;  // nonzero, not shipped before
  uint64_t merchant_id;
  uint64_t sku_id[kOrderLineCountMax];     // distinct, nonzero
  uint16_t quantity[kOrderLineCountMax];   // 1 .. kLineQuantityMax
  uint8_t reserved[16];
  Trailer trailer;  // issuer (docs/access.md)
};

struct TrackParcel {
  Operation operation;  // kTrackParcel
  ParcelState event;    // kPicked .. kReturned: the state the parcel moves into
  uint16_t reserved0;
  uint32_t hub;  // where it happened (a courier hub or station code); 0 = not given
  uint64_t waybill;
  uint8_t reserved[104];
  Trailer trailer;  // issuer (docs/access.md)
};

static_assert(sizeof(CreateWarehouse) == kCommandSize && sizeof(StockWarehouse) == kCommandSize);
static_assert(sizeof(CreateCourier) == kCommandSize && sizeof(SetCoverage) == kCommandSize);
static_assert(sizeof(SetRegionPoint) == kCommandSize && sizeof(ShipOrder) == kCommandSize);
static_assert(sizeof(TrackParcel) == kCommandSize);
static_assert(offsetof(CreateCourier, name) == 16 && offsetof(CreateCourier, cost_fen) == 32);
static_assert(offsetof(SetCoverage, bits) == 16 && offsetof(ShipOrder, sku_id) == 24);
static_assert(offsetof(ShipOrder, quantity) == 88 && offsetof(TrackParcel, waybill) == 8);

// For fulfilment operations a wire::Result carries: code; operation; `state` = the
// ParcelState after a tracking event (as its number), else 0; `id` = the warehouse, courier,
// order or waybill the command names; `amount_fen` = the warehouse's units of the SKU after a
// StockWarehouse, the parcel count of an allocated ShipOrder, else 0; `at_us` = log time.

// ---- Query answers (not logged; read from the state at a log position) ----

struct ParcelRecord {
  uint64_t waybill;
  uint64_t order_id;
  uint64_t warehouse_id;
  uint64_t courier_id;
  uint64_t allocated_at_us;
  uint64_t handed_at_us;  // 0 until handed_to_courier
  uint32_t sort_code;     // buyer region * 10 + city tier, printed on the label
  ParcelState state;
  uint8_t event_count;   // entries in the timeline, 1 .. kTimelineEventCountMax
  uint8_t line_count;    // lines of the order this parcel carries
  uint8_t city_tier;
  uint16_t region;
  uint8_t parcel_number;  // 1-based within the order's shipment
  uint8_t parcel_count;   // parcels in the order's shipment
  uint32_t reserved0;
  uint64_t sku_id[kOrderLineCountMax];
  uint16_t quantity[kOrderLineCountMax];
};

struct TimelineEntry {
  uint64_t at_us;
  uint32_t hub;
  ParcelState state;  // the event (kAllocated for the first entry)
  uint8_t reserved0[3];
};

enum class ShipmentState : uint8_t {
  kNone = 0,
  kBacklogged = 1,  // waiting for capacity, stock or a courier
  kAllocated = 2,   // parcels issued, some still on their way
  kCompleted = 3,   // every parcel delivered or returned; may be evicted to make room
};

struct ShipmentRecord {
  uint64_t order_id;
  ShipmentState state;
  uint8_t parcel_count;    // parcels allocated (0 while backlogged)
  uint16_t region;
  uint32_t backlog_position;  // backlogged: 0 = next to drain; kBacklogPositionUnknown if far back
  uint64_t waybill[kShipmentParcelCountMax];
};

inline constexpr uint32_t kMilestoneCountMax = 8;
// A shipment query scans at most this many backlog entries for the order's position (queries
// are bounded); an order further back reads kBacklogPositionUnknown and region 0.
inline constexpr uint32_t kBacklogPositionScanMax = 1024;
inline constexpr uint32_t kBacklogPositionUnknown = 0xFFFFFFFFu;

struct FiguresRecord {
  uint64_t parcels_allocated;   // since start
  uint64_t parcels_dispatched;  // handed_to_courier events since start
  uint64_t parcels_delivered;
  uint64_t parcels_returned;
  uint64_t shipments_allocated;
  uint64_t shipments_split;  // shipments of more than one parcel
  uint64_t backlog_count;    // shipments waiting now
  uint64_t backlog_count_high;
  uint64_t parcels_evicted;  // retired parcels dropped from memory to make room
  uint32_t milestone_count;
  uint32_t shipments_cancelled;  // paid orders cancelled before shipping (docs/returns.md)
  uint64_t milestone_parcels[kMilestoneCountMax];  // the N of "N-th parcel dispatched"
  uint64_t milestone_at_us[kMilestoneCountMax];    // log time it left; 0 = not yet
};

// get_warehouse (28): a warehouse as created, and its parcels dispatched in the hour and the
// day its counters last moved (hour_index, day_index: log time / 1 h, / 24 h).
struct WarehouseRecord {
  uint64_t warehouse_id;
  uint64_t hour_index;
  uint64_t day_index;
  int32_t x_km;
  int32_t y_km;
  uint32_t hourly_capacity;
  uint32_t daily_capacity;
  uint32_t hour_used;  // parcels allocated to it in hour_index
  uint32_t day_used;   // ... in day_index
  uint16_t region;
  uint16_t city;
  uint8_t flags;  // WarehouseFlags
  uint8_t reserved[3];
};

// get_courier (29): a courier or lane as created, its waybills issued so far and the number
// of regions it covers.
struct CourierRecord {
  uint64_t courier_id;
  int64_t cost_fen;
  uint64_t waybill_first;
  uint64_t waybill_count;
  uint64_t waybill_issued;
  char name[kCourierNameSize];  // NUL-padded
  uint32_t hourly_capacity;
  uint32_t regions_covered;
  CourierMode mode;
  uint8_t promised_days;
  uint8_t reserved[6];
};

// One warehouse's or courier's figures for one hour (hour = log time / 3600 s).
struct HourFigure {
  uint64_t hour_index;
  uint64_t object_id;  // warehouse or courier id
  uint32_t allocated;  // parcels allocated in that hour
  uint32_t dispatched;  // parcels handed to the courier in that hour
};

static_assert(sizeof(ParcelRecord) == 144 && sizeof(TimelineEntry) == 16);
static_assert(sizeof(ShipmentRecord) == 80 && sizeof(HourFigure) == 24);
static_assert(sizeof(FiguresRecord) == 208);
static_assert(sizeof(WarehouseRecord) == 56 && sizeof(CourierRecord) == 72);
static_assert(std::has_unique_object_representations_v<ParcelRecord>);

// Copies a command's bytes into the record its operation names.
template <typename T>
T AsRecord(const Command& command) {
  static_assert(sizeof(T) == kCommandSize && std::is_trivially_copyable_v<T>);
  T record;
  std::memcpy(&record, command.bytes, kCommandSize);
  return record;
}

// The reverse: a record as a command.
template <typename T>
Command ToCommand(const T& record) {
  static_assert(sizeof(T) == kCommandSize && std::is_trivially_copyable_v<T>);
  Command command;
  std::memcpy(command.bytes, &record, kCommandSize);
  return command;
}

// True for operation numbers in the fulfilment block (64..95).
inline bool IsFulfilmentOperation(Operation operation) {
  auto op = static_cast<uint8_t>(operation);
  return op >= kFulfilmentOperationMin && op <= kFulfilmentOperationMax;
}

// Checks a fulfilment command's structure only (a defined operation, reserved bytes zero);
// the engine checks everything that needs state. Returns ok or the first problem.
Code CheckFulfilmentStructure(const Command& command);

}  // namespace eleven::wire
