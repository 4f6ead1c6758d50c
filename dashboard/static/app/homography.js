// The plane-to-plane homography of a camera calibration, in the browser: four picture points
// (fractions of the snapshot) and where they lie on the road (metres) give the 3x3 matrix that
// maps one plane onto the other, so the calibration screen can draw the road's grid over the
// snapshot and measure distances while the technician drags the points, before anything is
// saved. The server's detector computes the same matrix with OpenCV's getPerspectiveTransform
// (streams/detect/calibration.py); tests/test_calibration_homography.py checks both agree.
//
// Method: the direct linear transform with h33 = 1, i.e. for each pair (u, v) -> (x, y)
//   x (h31 u + h32 v + 1) = h11 u + h12 v + h13,   y (h31 u + h32 v + 1) = h21 u + h22 v + h23,
// an 8x8 linear system solved by Gaussian elimination with partial pivoting. Both point sets
// are first moved to their centroid and scaled to a mean distance of sqrt(2) (Hartley's
// normalization): metres and fractions then have the same size, and h33 = 1 holds in the
// normalized frame even where the raw origin (the picture's top-left corner) lies on the
// horizon. No module imports here: node runs this file as it is.

const EPSILON = 1e-9;

/** Whether three points lie on one line (relative to the points' spread): [i, j, k] of the first such, else null. */
export function collinearTriple(points) {
  const n = normalized(points).points;
  for (let a = 0; a < 4; a += 1) {
    for (let b = a + 1; b < 4; b += 1) {
      for (let c = b + 1; c < 4; c += 1) {
        const cross = (n[b][0] - n[a][0]) * (n[c][1] - n[a][1]) - (n[b][1] - n[a][1]) * (n[c][0] - n[a][0]);
        if (Math.abs(cross) < 1e-6) return [a, b, c];
      }
    }
  }
  return null;
}

/**
 * The 3x3 matrix (rows) mapping `from[i]` onto `to[i]`, four [x, y] pairs each, scaled so
 * H[2][2] = 1; null when the four points of either side have three on one line (no
 * homography then) or a coordinate is not a finite number.
 */
export function homography(from, to) {
  if (from?.length !== 4 || to?.length !== 4) return null;
  if (![...from, ...to].every((p) => Number.isFinite(p?.[0]) && Number.isFinite(p?.[1]))) return null;
  if (collinearTriple(from) || collinearTriple(to)) return null;
  const a = normalized(from);
  const b = normalized(to);
  const rows = [];
  const rhs = [];
  for (let i = 0; i < 4; i += 1) {
    const [u, v] = a.points[i];
    const [x, y] = b.points[i];
    rows.push([u, v, 1, 0, 0, 0, -u * x, -v * x]);
    rhs.push(x);
    rows.push([0, 0, 0, u, v, 1, -u * y, -v * y]);
    rhs.push(y);
  }
  const h = solve(rows, rhs);
  if (!h) return null;
  const inner = [[h[0], h[1], h[2]], [h[3], h[4], h[5]], [h[6], h[7], 1]];
  const matrix = multiply(b.undo, multiply(inner, a.matrix));
  const scale = Math.abs(matrix[2][2]) > EPSILON ? matrix[2][2] : Math.hypot(...matrix.flat());
  return matrix.map((row) => row.map((value) => value / scale));
}

/** The inverse of a 3x3 matrix (the other direction of a homography); null when singular. */
export function invert(m) {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const cofactors = [
    [e * i - f * h, c * h - b * i, b * f - c * e],
    [f * g - d * i, a * i - c * g, c * d - a * f],
    [d * h - e * g, b * g - a * h, a * e - b * d],
  ];
  const determinant = a * cofactors[0][0] + b * cofactors[1][0] + c * cofactors[2][0];
  if (!Number.isFinite(determinant) || Math.abs(determinant) < EPSILON * Math.hypot(...m.flat()) ** 3) return null;
  return cofactors.map((row) => row.map((value) => value / determinant));
}

/**
 * [x, y] of point p through H, and w, the homogeneous divisor: its sign tells on which side of
 * the horizon p lies (a point with w of the other sign than the calibration points' is behind
 * the camera), and near 0 the image is at infinity.
 */
export function project(m, [u, v]) {
  const w = m[2][0] * u + m[2][1] * v + m[2][2];
  return { x: (m[0][0] * u + m[0][1] * v + m[0][2]) / w, y: (m[1][0] * u + m[1][1] * v + m[1][2]) / w, w };
}

/** Ground distance in metres between picture points p and q, with `toGround` = homography(picture, ground). */
export function groundDistance(toGround, p, q) {
  const a = project(toGround, p);
  const b = project(toGround, q);
  return Math.hypot(b.x - a.x, b.y - a.y);
}

// Points moved to their centroid and scaled to a mean distance of sqrt(2); `matrix` does it,
// `undo` reverses it.
function normalized(points) {
  const cx = points.reduce((s, p) => s + p[0], 0) / points.length;
  const cy = points.reduce((s, p) => s + p[1], 0) / points.length;
  const mean = points.reduce((s, p) => s + Math.hypot(p[0] - cx, p[1] - cy), 0) / points.length;
  const s = mean > 0 ? Math.SQRT2 / mean : 1;
  return {
    points: points.map(([x, y]) => [(x - cx) * s, (y - cy) * s]),
    matrix: [[s, 0, -s * cx], [0, s, -s * cy], [0, 0, 1]],
    undo: [[1 / s, 0, cx], [0, 1 / s, cy], [0, 0, 1]],
  };
}

function multiply(p, q) {
  return p.map((row) => q[0].map((_, j) => row.reduce((sum, value, k) => sum + value * q[k][j], 0)));
}

// Gaussian elimination with partial pivoting on a copy; null when a pivot vanishes.
function solve(rows, rhs) {
  const n = rows.length;
  const m = rows.map((row, i) => [...row, rhs[i]]);
  for (let col = 0; col < n; col += 1) {
    let pivot = col;
    for (let r = col + 1; r < n; r += 1) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    if (Math.abs(m[pivot][col]) < EPSILON) return null;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    for (let r = col + 1; r < n; r += 1) {
      const factor = m[r][col] / m[col][col];
      for (let c = col; c <= n; c += 1) m[r][c] -= factor * m[col][c];
    }
  }
  const x = new Array(n).fill(0);
  for (let r = n - 1; r >= 0; r -= 1) {
    let sum = m[r][n];
    for (let c = r + 1; c < n; c += 1) sum -= m[r][c] * x[c];
    x[r] = sum / m[r][r];
  }
  return x;
}
