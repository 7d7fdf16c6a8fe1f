{#- a - b for 32-bit TCP sequence/ack numbers as a signed 32-bit value
    (RFC 1982 serial arithmetic, Wireshark's LT_SEQ/GT_SEQ): negative when a
    is before b, also across the 2^32 wrap. -#}
{% macro tcp_seq_diff(a, b) -%}
    ((({{ a }})::bigint - ({{ b }})::bigint + 6442450944) % 4294967296
    - 2147483648)
{%- endmacro %}
