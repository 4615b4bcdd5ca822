"""Vendor facts the kit relies on, each table with its source and the date it was checked."""
