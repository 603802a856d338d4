# ruff: noqa: B905 - legacy code: zip() without strict=, as it was written
"""Dense linear algebra with loops over lists of lists (the way it was written before
NumPy): Gaussian elimination, LU, Cholesky, Thomas, power iteration, Gram-Schmidt, Jacobi,
Gauss-Jordan, Laplace expansion."""

from registry import case, matrix, on_list, on_matrix, vector


@case(matrix(3, extra=3), on_matrix(3, extra=True))
def gauss_partial_pivoting(A, b):
    """Solve A x = b by Gaussian elimination with partial pivoting (copies the inputs)."""
    n = len(A)
    M = [row[:] + [b[i]] for i, row in enumerate(A)]
    for k in range(n):
        p = max(range(k, n), key=lambda r: abs(M[r][k]))
        if p != k:
            M[k], M[p] = M[p], M[k]
        for i in range(k + 1, n):
            m = M[i][k] / M[k][k]
            for j in range(k, n + 1):
                M[i][j] -= m * M[k][j]
    x = [0.0] * n
    for i in reversed(range(n)):
        x[i] = (M[i][n] - sum(M[i][j] * x[j] for j in range(i + 1, n))) / M[i][i]
    return x[0] + 2.0 * x[1] + 3.0 * x[2]


@case(matrix(4, diag=5.0), on_matrix(4))
def doolittle_determinant(A):
    """Determinant from a Doolittle LU decomposition (no pivoting)."""
    n = len(A)
    L = [[0.0] * n for _ in range(n)]
    U = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for k in range(i, n):
            U[i][k] = A[i][k] - sum(L[i][j] * U[j][k] for j in range(i))
        L[i][i] = 1.0
        for k in range(i + 1, n):
            L[k][i] = (A[k][i] - sum(L[k][j] * U[j][i] for j in range(i))) / U[i][i]
    det = 1.0
    for i in range(n):
        det *= U[i][i]
    return det


@case(matrix(3, diag=0.0), on_matrix(3))
def cholesky_logdet(B):
    """log det of the SPD matrix B B^T + 3 I by a hand-written Cholesky factorisation."""
    import math

    n = len(B)
    A = [[sum(B[i][k] * B[j][k] for k in range(n)) + (3.0 if i == j else 0.0)
          for j in range(n)] for i in range(n)]
    L = [[0.0] * n for _ in range(n)]
    for j in range(n):
        s = A[j][j] - sum(L[j][k] ** 2 for k in range(j))
        L[j][j] = math.sqrt(s)
        for i in range(j + 1, n):
            L[i][j] = (A[i][j] - sum(L[i][k] * L[j][k] for k in range(j))) / L[j][j]
    return 2.0 * sum(math.log(L[i][i]) for i in range(n))


@case(vector(11, 0.5, 1.5), on_list)
def thomas_tridiagonal(p):
    """Thomas algorithm for a tridiagonal system: sub (3), diagonal (4, + 3), super (3)
    bands and right-hand side taken from one list; returns the sum of the solution."""
    a = [0.0] + p[0:3]
    b = [d + 3.0 for d in p[3:7]]
    c = p[7:10] + [0.0]
    d = [1.0, 2.0, p[10], 1.0]
    n = len(b)
    cp, dp = [0.0] * n, [0.0] * n
    cp[0], dp[0] = c[0] / b[0], d[0] / b[0]
    for i in range(1, n):
        m = b[i] - a[i] * cp[i - 1]
        cp[i] = c[i] / m
        dp[i] = (d[i] - a[i] * dp[i - 1]) / m
    x = [0.0] * n
    x[-1] = dp[-1]
    for i in range(n - 2, -1, -1):
        x[i] = dp[i] - cp[i] * x[i + 1]
    return sum(x)


@case(vector(6, -1.0, 1.0), on_list)
def power_iteration(p):
    """Dominant eigenvalue of a symmetric 3 x 3 matrix (diag(4, 1, 0) + sym(p)) by power
    iteration and the Rayleigh quotient."""
    import math

    A = [[4.0 + p[0], p[1], p[2]], [p[1], 1.0 + p[3], p[4]], [p[2], p[4], p[5]]]
    v = [1.0, 1.0, 1.0]
    for _ in range(200):
        w = [sum(A[i][j] * v[j] for j in range(3)) for i in range(3)]
        norm = math.sqrt(sum(t * t for t in w))
        v = [t / norm for t in w]
    Av = [sum(A[i][j] * v[j] for j in range(3)) for i in range(3)]
    return sum(v[i] * Av[i] for i in range(3))


@case(matrix(3, diag=2.0), on_matrix(3))
def gram_schmidt_volume(V):
    """Modified Gram-Schmidt on the rows; the product of the R diagonal is |det V|."""
    import math

    Q = []
    vol = 1.0
    for v in V:
        w = list(v)
        for q in Q:
            r = sum(a * b for a, b in zip(q, w))
            w = [a - r * b for a, b in zip(w, q)]
        r = math.sqrt(sum(a * a for a in w))
        vol *= r
        Q.append([a / r for a in w])
    return vol


@case(matrix(3, extra=3, diag=6.0), on_matrix(3, extra=True))
def jacobi_iteration(A, b):
    """Jacobi sweeps for a diagonally dominant system; returns x . (1, 1, 1)."""
    n = len(A)
    x = [0.0] * n
    for _ in range(80):
        x = [(b[i] - sum(A[i][j] * x[j] for j in range(n) if j != i)) / A[i][i]
             for i in range(n)]
    return sum(x)


@case(matrix(3, diag=3.0), on_matrix(3))
def gauss_jordan_inverse(A):
    """Inverse by Gauss-Jordan elimination on [A | I]; returns the sum of its entries."""
    n = len(A)
    M = [list(A[i]) + [1.0 if i == j else 0.0 for j in range(n)] for i in range(n)]
    for c in range(n):
        piv = M[c][c]
        M[c] = [v / piv for v in M[c]]
        for r in range(n):
            if r != c:
                f = M[r][c]
                M[r] = [vr - f * vc for vr, vc in zip(M[r], M[c])]
    return sum(sum(row[n:]) for row in M)


def _det(M):
    if len(M) == 1:
        return M[0][0]
    total = 0.0
    for j in range(len(M)):
        minor = [row[:j] + row[j + 1:] for row in M[1:]]
        total += (-1) ** j * M[0][j] * _det(minor)
    return total


@case(matrix(4, diag=2.0), on_matrix(4))
def laplace_determinant(A):
    """Determinant by recursive cofactor expansion along the first row."""
    return _det(A)


@case(matrix(3, diag=1.0), on_matrix(3))
def matmul_trace(A):
    """trace(A A^T A) with nested list comprehensions and zip(*A) for the transpose."""
    At = [list(col) for col in zip(*A)]

    def mm(X, Y):
        return [[sum(x * y for x, y in zip(row, col)) for col in zip(*Y)] for row in X]

    P = mm(mm(A, At), A)
    return sum(P[i][i] for i in range(len(P)))


@case(matrix(3, extra=3, diag=3.0), on_matrix(3, extra=True))
def back_substitution(A, b):
    """Solve the upper triangle of A against b by back substitution."""
    n = len(b)
    x = [0.0] * n
    for i in range(n - 1, -1, -1):
        s = b[i]
        for j in range(i + 1, n):
            s -= A[i][j] * x[j]
        x[i] = s / A[i][i]
    return x[0] - x[1] + x[2]
