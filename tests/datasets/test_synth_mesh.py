"""The shipped base mesh and the MediaPipe-478 -> iBUG-68 table, checked by geometry on the (near-symmetric) mesh."""

import numpy as np
import pytest

from thermbench.core.keypoints import load_schema
from thermbench.datasets.synth import mesh
from thermbench.datasets.synth.face import base_vertices, face_triangles

TABLE = load_schema("mediapipe478_to_ibug68")
IDX = np.array(TABLE["index"])


def test_base_mesh_shapes():
    m = mesh.load()
    assert m.vertices.shape == (478, 3)
    assert 850 <= len(m.triangles) <= 860 and m.triangles.max() < 468  # tesselation has no iris points
    tris, region = face_triangles()
    assert len(tris) == len(region) == len(m.triangles) + len(m.eye_fill) + len(m.mouth_fill)


def test_triangles_from_edges_on_a_square():
    # Square 0-1-2-3 split by the diagonal 0-2: exactly two triangles.
    edges = {(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)}
    assert mesh.triangles_from_edges(edges).tolist() == [[0, 1, 2], [0, 2, 3]]


def test_table_is_68_distinct_vertices():
    assert len(IDX) == 68 and len(set(IDX.tolist())) == 68 and IDX.max() < 478
    assert TABLE["pupils"] == [mesh.RIGHT_IRIS_CENTRE, mesh.LEFT_IRIS_CENTRE]


def test_table_respects_ibug_flip_pairs():
    v = base_vertices()
    for a, b in load_schema("ibug68")["flip_pairs"]:
        pa, pb = v[IDX[a], :2], v[IDX[b], :2] * [-1, 1]  # mirror b through the face's midline x = 0
        assert np.linalg.norm(pa - pb) < 0.06, (a, b)
    for right, left in ((0, 16), (17, 26), (31, 35), (36, 45), (48, 54), (59, 55), (67, 65)):
        assert v[IDX[right], 0] < 0 < v[IDX[left], 0]  # the subject's right side lies on the image left
    for k in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66):  # midline points
        assert abs(v[IDX[k], 0]) < 0.05, k


def test_eye_corners_by_geometry():
    v = base_vertices()
    right_eye, left_eye = v[IDX[36:42]], v[IDX[42:48]]
    assert v[IDX[36], 0] == right_eye[:, 0].min() and v[IDX[39], 0] == right_eye[:, 0].max()
    assert v[IDX[42], 0] == left_eye[:, 0].min() and v[IDX[45], 0] == left_eye[:, 0].max()
    for pupil, eye in ((468, right_eye), (473, left_eye)):
        assert eye[:, 0].min() < v[pupil, 0] < eye[:, 0].max()
    assert v[IDX[30], 2] == v[IDX, 2].min()  # the nose tip is the point nearest the camera


def test_shipped_mesh_matches_a_fresh_mediapipe_fit():
    pytest.importorskip("mediapipe")
    fresh = mesh.fit_base_mesh()
    assert np.abs(fresh["vertices"] - mesh.load().vertices).max() < 1.0  # texture px
    assert np.array_equal(fresh["triangles"], mesh.load().triangles)
