"""Prints `module.Class` for every test class with tests in the given modules: CMake makes one
CTest entry of each, so the real-time suites run concurrently (they spend their time waiting for
faxes sent in real time, not on the CPU)."""
import importlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    for attr in dir(module):
        cls = getattr(module, attr)
        if (isinstance(cls, type) and issubclass(cls, unittest.TestCase) and cls.__module__ == name
                and unittest.TestLoader().getTestCaseNames(cls)):
            print("%s.%s" % (name, attr))
