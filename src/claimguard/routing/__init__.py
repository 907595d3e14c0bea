"""Jurisdiction routing (contract §5): 数据向上汇聚、疑点向下交办."""

from claimguard.routing.regions import RegionTree
from claimguard.routing.router import Assignment, Router

__all__ = ["Assignment", "RegionTree", "Router"]
