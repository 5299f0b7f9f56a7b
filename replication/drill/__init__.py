"""keelkv-drill: rehearse a master failure on a Sentinel-watched group and measure what was lost."""
