"""Ends its process from inside a graded function. EXPECT: error"""
import os


def grad_w1(x, y, params):
    os._exit(0)
