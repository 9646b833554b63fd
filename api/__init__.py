"""The Jaylym HTTP API: registry of okrugs, pastures, herds, herders and devices; grazing
pressure; the alert engine and its delivery to herders."""
