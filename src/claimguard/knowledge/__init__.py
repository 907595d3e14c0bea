"""The knowledge base: contract §2 CSV files loaded into indexed, validated catalogs."""

from claimguard.knowledge.catalog import KnowledgeBase
from claimguard.knowledge.loader import KnowledgeError, load_knowledge

__all__ = ["KnowledgeBase", "KnowledgeError", "load_knowledge"]
