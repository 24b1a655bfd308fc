#!/usr/bin/env python3
"""AUC of predictions (one per line) against the labels (first field of each
line of a libFM/libsvm file): python3 auc.py labels.txt predictions.txt"""
import sys

y = [int(float(l.split()[0]) > 0) for l in open(sys.argv[1])]
p = [float(l) for l in open(sys.argv[2])]
pairs = sorted(zip(p, y))
n1 = sum(y)
n0 = len(y) - n1
s = 0.0
i = 0
while i < len(pairs):
    j = i
    while j < len(pairs) and pairs[j][0] == pairs[i][0]:
        j += 1
    s += (i + 1 + j) / 2 * sum(1 for k in range(i, j) if pairs[k][1] == 1)
    i = j
print(f"{(s - n1 * (n1 + 1) / 2) / (n1 * n0):.4f}")
