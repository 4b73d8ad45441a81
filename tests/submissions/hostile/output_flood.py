"""Prints 50 MB (capped). EXPECT: any"""
for _ in range(50):
    print("x" * (1 << 20))
