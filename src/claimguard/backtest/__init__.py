"""`claimguard backtest`: archived events through a baseline and a candidate rule set."""

from claimguard.backtest.compare import RuleDelta, Summary, compare
from claimguard.backtest.run import BacktestRun, run_backtest

__all__ = ["BacktestRun", "RuleDelta", "Summary", "compare", "run_backtest"]
