"""claimguard: streaming intelligent monitoring of medical-insurance fund settlements.

Data flows one way: decode → engine (rules, then cross-event windows) → routing →
stream/store. Each stage is one sub-package; see ARCHITECTURE in the README.
"""

__version__ = "0.1.0"
