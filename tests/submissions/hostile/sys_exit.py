"""Calls sys.exit while being imported. EXPECT: error"""
import sys

sys.exit(0)
