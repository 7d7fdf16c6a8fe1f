{#- Name of an IP protocol number (IANA keywords, lower case) for the common
    ones, 'ip-<n>' for the rest, 'non-ip' when there is neither an IP version
    nor a protocol (a protocol without a version is a tshark export that
    lacks the IPv6 address fields), 'unknown' for IP without a protocol. -#}
{% macro ip_protocol_name(ip_version, ip_proto) %}
    case
        when {{ ip_proto }} is null and {{ ip_version }} is null then 'non-ip'
        when {{ ip_proto }} is null then 'unknown'
        when {{ ip_proto }} = 1 then 'icmp'
        when {{ ip_proto }} = 2 then 'igmp'
        when {{ ip_proto }} = 4 then 'ipip'
        when {{ ip_proto }} = 6 then 'tcp'
        when {{ ip_proto }} = 17 then 'udp'
        when {{ ip_proto }} = 41 then 'ipv6'
        when {{ ip_proto }} = 47 then 'gre'
        when {{ ip_proto }} = 50 then 'esp'
        when {{ ip_proto }} = 51 then 'ah'
        when {{ ip_proto }} = 58 then 'ipv6-icmp'
        when {{ ip_proto }} = 132 then 'sctp'
        else 'ip-' || {{ ip_proto }}
    end
{% endmacro %}
