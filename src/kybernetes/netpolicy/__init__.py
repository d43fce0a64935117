"""NetworkPolicy enforcement: one agent per node (`kyb network-policy`) turns the
policies selecting that node's pods into an nftables table in the node's network
namespace."""
