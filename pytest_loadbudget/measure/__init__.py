"""The measurements taken in the test process: loads, resident memory, devices, the read floor, the page cache."""
