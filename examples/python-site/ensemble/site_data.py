"""The site's rows (SITE_DATA: a CSV of four standardised iris features, then the class 0-2),
split into training rows and every fifth row kept back for local validation."""
import os

import numpy as np

NUM_CLASSES = 3


def load():
    data = np.loadtxt(os.environ["SITE_DATA"], delimiter=",", ndmin=2)
    x, y = data[:, :4], data[:, 4].astype(int)
    held = np.arange(len(y)) % 5 == 4
    return (x[~held], y[~held]), (x[held], y[held])


def softmax(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
