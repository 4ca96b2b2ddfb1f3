#include "brickcast/units.h"

#include <gtest/gtest.h>

namespace brickcast {
namespace {

double ToSi(const char* unit, double v) {
  const UnitInfo* u = FindUnit(unit);
  EXPECT_NE(u, nullptr) << unit;
  return u == nullptr ? 0 : v * u->scale + u->offset;
}

TEST(UnitsTest, ConvertsToSi) {
  EXPECT_NEAR(ToSi("DEG_F", 32), 0.0, 1e-12);
  EXPECT_NEAR(ToSi("DEG_F", 212), 100.0, 1e-12);
  EXPECT_NEAR(ToSi("http://qudt.org/vocab/unit/DEG_F", 55), 12.777777777777779, 1e-12);
  EXPECT_NEAR(ToSi("K", 273.15), 0.0, 1e-12);
  EXPECT_NEAR(ToSi("IN_H2O", 1.0), 249.08891, 1e-9);
  EXPECT_NEAR(ToSi("unit:PERCENT", 55), 0.55, 1e-12);
  EXPECT_NEAR(ToSi("FT3-PER-MIN", 1000), 0.47194745, 1e-9);
  EXPECT_NEAR(ToSi("GAL_US-PER-MIN", 1), 6.30901964e-5, 1e-12);
  EXPECT_NEAR(ToSi("KiloW", 2.5), 2500, 1e-9);
  EXPECT_NEAR(ToSi("PSI", 1), 6894.757293168, 1e-6);
  EXPECT_NEAR(ToSi("REV-PER-MIN", 60), 1, 1e-12);
  EXPECT_NEAR(ToSi("°F", 50), 10, 1e-12);
  EXPECT_EQ(FindUnit("FURLONG-PER-FORTNIGHT"), nullptr);
}

TEST(UnitsTest, ClassQuantities) {
  EXPECT_EQ(QuantityOfClass("Supply_Air_Temperature_Sensor"), Quantity::kTemperature);
  EXPECT_EQ(QuantityOfClass("Supply_Air_Temperature_Setpoint"), Quantity::kTemperature);
  EXPECT_EQ(QuantityOfClass("Supply_Air_Static_Pressure_Sensor"), Quantity::kPressure);
  EXPECT_EQ(QuantityOfClass("Valve_Command"), Quantity::kFraction);
  EXPECT_EQ(QuantityOfClass("Damper_Position_Command"), Quantity::kFraction);
  EXPECT_EQ(QuantityOfClass("Supply_Air_Flow_Sensor"), Quantity::kVolumeFlow);
  EXPECT_EQ(QuantityOfClass("Fan_Status"), Quantity::kDimensionless);
  EXPECT_EQ(QuantityOfClass("Occupancy_Sensor"), Quantity::kUnknown);
}

TEST(UnitsTest, PhysicalRanges) {
  EXPECT_TRUE(InPhysicalRange(Quantity::kTemperature, 22));
  EXPECT_FALSE(InPhysicalRange(Quantity::kTemperature, -300));
  EXPECT_TRUE(InPhysicalRange(Quantity::kFraction, -0.04));  // real LBNL damper signal
  EXPECT_FALSE(InPhysicalRange(Quantity::kFraction, 55));    // percent sent as a fraction
  EXPECT_FALSE(InPhysicalRange(Quantity::kUnknown, std::numeric_limits<double>::infinity()));
}

}  // namespace
}  // namespace brickcast
