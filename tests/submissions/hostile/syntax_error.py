"""Does not parse. EXPECT: error"""
def grad_w1(x, y, params)
    return x
