#!/usr/bin/python3
"""EASE (Steck, WWW 2019), the closed-form item-item baseline of the
benchmarks, scored with fm_evaluate's protocol (src/core/evaluate.c): for
each test user with a relevant test row (rating >= threshold, item in the
training catalogue), rank all training items minus the user's training
items, top k; NDCG@k with binary gains, recall@k = hits / min(k, relevant).

usage: ease.py TRAIN.csv TEST.csv LAMBDA [THRESHOLD]
CSV rows: user, item, rating.  Prints "ndcg@10 recall@20 users".
A reference for benchmarks only (numpy); never part of the extension.
"""
import sys
import numpy as np


def load(path):
    rows = np.loadtxt(path, delimiter=',', ndmin=2)
    return rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2]


def main():
    tu, ti, _ = load(sys.argv[1])
    su, si, sr = load(sys.argv[2])
    lam = float(sys.argv[3])
    thr = float(sys.argv[4]) if len(sys.argv) > 4 else 4.0
    users = np.unique(tu)
    items = np.unique(ti)
    uix = {u: j for j, u in enumerate(users)}
    iix = {i: j for j, i in enumerate(items)}
    X = np.zeros((len(users), len(items)), dtype=np.float64)
    X[[uix[u] for u in tu], [iix[i] for i in ti]] = 1.0
    G = X.T @ X
    G[np.diag_indices_from(G)] += lam
    P = np.linalg.inv(G)
    B = -P / np.diag(P)
    B[np.diag_indices_from(B)] = 0.0
    S = X @ B
    S[X > 0] = -np.inf
    rel = {}
    for u, i, r in zip(su, si, sr):
        if r >= thr and i in iix and u in uix:
            rel.setdefault(u, set()).add(i)
    ndcg, recall = [], []
    for u, rs in rel.items():
        s = S[uix[u]]
        # best first, ties by ascending item id (items are sorted)
        order = np.lexsort((np.arange(len(items)), -s))
        top = [items[j] for j in order[:20]]
        hits = [1.0 if t in rs else 0.0 for t in top]
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits[:10]))
        idcg = sum(1 / np.log2(r + 2) for r in range(min(10, len(rs))))
        ndcg.append(dcg / idcg)
        recall.append(sum(hits) / min(20, len(rs)))
    print("%.4f %.4f %d" % (np.mean(ndcg), np.mean(recall), len(rel)))


if __name__ == '__main__':
    main()
