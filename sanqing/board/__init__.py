"""The situation board (态势看板): every open response on one page, served by ``sanqing serve``."""

from sanqing.board.data import board
from sanqing.board.page import render_board

__all__ = ["board", "render_board"]
