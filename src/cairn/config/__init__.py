"""Configuration files: `fe.conf` and `cn.conf` in StarRocks' format."""
