#!/usr/bin/env python3
"""Reference for the YAML reader: how PyYAML (the Python seed project's yaml.safe_load) reads
plain and quoted scalars and a few documents, so the Swift resolver can be checked against it.

Writes Tests/Fixtures/yaml/scalars.json: a list of
  {"text": <the YAML scalar as written>, "type": "null|bool|int|float|str", "value": ...}
(floats as repr strings, so inf/nan and exact digits survive JSON).

Run from the package root:  python3 tools/make_yaml_reference.py
"""
import json
import math
import os

import yaml

# Scalars a config might contain, and the YAML 1.1 corner cases around them.
SCALARS = [
    # null
    "", "~", "null", "Null", "NULL", "nULL", "'null'", '"~"',
    # booleans (YAML 1.1: yes/no/on/off too)
    "true", "True", "TRUE", "tRUE", "false", "False", "FALSE", "yes", "Yes", "YES", "no", "No", "NO",
    "on", "On", "ON", "off", "Off", "OFF", "y", "n", "'true'", '"yes"',
    # integers
    "0", "1", "-1", "+1", "42", "16", "-17", "1_000", "1_000_000", "0x1F", "0xff", "-0x10", "0b101", "-0b11",
    "010", "0o10", "08", "007", "9223372036854775807", "-9223372036854775808", "'16'", '"128"',
    # floats
    "2.0e-5", "2.0e-05", "1.5", "-1.5", "+1.5", "0.1", "1.", "1.0", "-0.0", ".5", "1_000.5", "3.14159",
    "1.0e+5", "6.02e+23", ".inf", "-.inf", "+.inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", "'2.0e-5'",
    # the documented differences: PyYAML wants a dot and a signed exponent
    "2e-5", "1e5", "1.0e5", "1E-3", "-.5",
    # strings
    "ltg/norbert3-base", "Fremtind/all-nli-norwegian", "models/x", "cosine_with_restarts", "hello world",
    "'quoted # not a comment'", '"tab\\there"', "'it''s'", "1.2.3", "0x", "0xg", "1_", "--1", "e5",
    "1e", ".e5", "inf", "nan", "NaN", "+", ".", "_1",
]
# Documented differences of the Swift resolver (see YAMLNode.resolved()).
DIFFERENT = {"2e-5", "1e5", "1.0e5", "1E-3", "-.5"}


def describe(v):
    if v is None:
        return "null", None
    if isinstance(v, bool):
        return "bool", v
    if isinstance(v, int):
        return "int", v
    if isinstance(v, float):
        return "float", repr(v)
    if isinstance(v, str):
        return "str", v
    raise TypeError(type(v))


def main():
    out = []
    for text in SCALARS:
        doc = yaml.safe_load("k: " + text)
        t, value = describe(doc["k"])
        out.append({"text": text, "type": t, "value": value, "pyyaml_differs": text in DIFFERENT})
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    path = os.path.join(root, "Tests/Fixtures/yaml/scalars.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"generator": "PyYAML " + yaml.__version__ + " safe_load", "scalars": out}, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(out)} scalars to {path}")


if __name__ == "__main__":
    main()
