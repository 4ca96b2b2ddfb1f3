#!/usr/bin/env python3
"""Writes synthetic-szvav.csv: three days of a single-zone AHU in the LBNL SZVAV column layout
(5-minute rows, degF, commands as fractions), for the evaluate-faults test that runs everywhere.

Day 1 (fault-free): occupied 06:00-18:00, fan on all day, free cooling (both valves closed, OA
damper at 70 %); MAT mixes outdoor and return air, SAT is MAT plus 1 degF of fan heat.
Day 2 (fault): the same, but a leaking heating valve warms the supply air 8 degF above the mixed
air with its valve commanded closed (G36 FC8: |SAT - fan heat - MAT| = 6 degF > 5.39 degF).
Day 3 (fault-free): as day 1.

Run: python3 tests/testdata/faults/make_synthetic_ahu.py  (deterministic; no randomness)
"""
import math
import os

HEADER = ("Datetime,AHU: Supply Air Temperature,AHU: Supply Air Temperature Heating Set Point,"
          "AHU: Supply Air Temperature Cooling Set Point,AHU: Outdoor Air Temperature,AHU: Mixed Air Temperature,"
          "AHU: Return Air Temperature,AHU: Supply Air Fan Status,AHU: Supply Air Fan Speed Control Signal,"
          "AHU: Outdoor Air Damper Control Signal  ,AHU: Return Air Damper Control Signal,"
          "AHU: Exhaust Air Damper Control Signal    ,AHU: Cooling Coil Valve Control Signal,"
          "AHU: Heating Coil Valve Control Signal,Occupancy Mode Indicator,Fault Detection Ground Truth")


def rows():
    for day, fault in enumerate([0, 1, 0]):
        for minute in range(0, 24 * 60, 5):
            h = minute / 60.0
            oat = 52 + 5 * math.sin((h - 9) / 24 * 2 * math.pi)  # 47..57 degF: cool enough for free cooling
            rat = 72 + 0.5 * math.cos(h / 24 * 2 * math.pi)
            eco = 0.7
            mat = eco * oat + (1 - eco) * rat
            sat = mat + 1 + (8 if fault else 0)
            occupied = 1 if 6 <= h < 18 else 0
            label = str(fault) if minute == 0 else ""
            yield (f"10/{2 + day}/2017 {minute // 60}:{minute % 60:02d},{sat:.2f},60,55,{oat:.2f},{mat:.2f},{rat:.2f},"
                   f"1,0.5,{eco},{1 - eco:.1f},{eco},0,0,{occupied},{label}")


if __name__ == "__main__":
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "synthetic-szvav.csv")
    with open(out, "w") as f:
        f.write(HEADER + "\n")
        for r in rows():
            f.write(r + "\n")
    print(out)
