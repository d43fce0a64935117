"""A TCP server for process-runtime pods (python3 from the host) that answers every
connection on port 7000 with its pod's host name and the address the connection came
from: what network e2e tests check NAT, spreading and traffic policies with."""

ECHO_SERVER = """
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 7000))
s.listen(64)
while True:
    c, peer = s.accept()
    c.sendall(f"{socket.gethostname()} {peer[0]}".encode())
    c.close()
"""
