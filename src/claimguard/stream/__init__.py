"""The stream room (contract §7): the Faust worker (`worker.run_worker`), the local Tansu
broker (`broker.run_broker`) and the demo (`demo.run_demo`). See README.md beside this
file for the design, the no-loss ordering and what we measured about the pieces."""
