"""Stand-in for CS231n's cs231n/im2col.py: the column layout of convolution patches.

Written for bpgrade from the layout's definition: column ``j`` of ``cols`` holds
one (channel, kernel row, kernel column) patch of every output position of every image.
"""

import numpy as np


def get_im2col_indices(x_shape, field_height, field_width, padding=1, stride=1):
    _, channels, height, width = x_shape
    out_height = (height + 2 * padding - field_height) // stride + 1
    out_width = (width + 2 * padding - field_width) // stride + 1
    rows = np.tile(np.repeat(np.arange(field_height), field_width), channels)
    cols = np.tile(np.arange(field_width), field_height * channels)
    k = np.repeat(np.arange(channels), field_height * field_width).reshape(-1, 1)
    i = rows.reshape(-1, 1) + stride * np.repeat(np.arange(out_height), out_width).reshape(1, -1)
    j = cols.reshape(-1, 1) + stride * np.tile(np.arange(out_width), out_height).reshape(1, -1)
    return k, i, j


def im2col_indices(x, field_height, field_width, padding=1, stride=1):
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), mode="constant")
    k, i, j = get_im2col_indices(x.shape, field_height, field_width, padding, stride)
    patches = padded[:, k, i, j]
    return patches.transpose(1, 2, 0).reshape(field_height * field_width * x.shape[1], -1)


def col2im_indices(cols, x_shape, field_height=3, field_width=3, padding=1, stride=1):
    n, channels, height, width = x_shape
    padded = np.zeros((n, channels, height + 2 * padding, width + 2 * padding), dtype=cols.dtype)
    k, i, j = get_im2col_indices(x_shape, field_height, field_width, padding, stride)
    reshaped = cols.reshape(channels * field_height * field_width, -1, n).transpose(2, 0, 1)
    np.add.at(padded, (slice(None), k, i, j), reshaped)
    if padding == 0:
        return padded
    return padded[:, :, padding:-padding, padding:-padding]
