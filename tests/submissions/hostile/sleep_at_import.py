"""Sleeps while being imported. EXPECT: timeout"""
import time

time.sleep(600)
