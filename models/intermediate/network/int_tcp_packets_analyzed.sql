-- Wireshark's tcp.analysis flags per TCP packet, recomputed with window
-- functions (rules in _int_network__models.yml). "fwd" is the packet's own
-- direction, "rev" the other one, as in epan/dissectors/packet-tcp.c.
with

packets as (
    select * from {{ ref('int_packets_sessionized') }}
    where ip_proto = 6
),

directed as (
    select
        *,
        (is_syn or is_fin)::integer as syn_fin_bytes,
        is_syn or is_fin or is_rst as has_syn_fin_rst,
        lag(tcp_seq) over dir as fwd_prev_seq,
        lag(tcp_ack) over dir as fwd_lastack,
        lag(tcp_window) over dir as fwd_window,
        first_value(tcp_seq) over dir as fwd_first_seq
    from packets
    window dir as (partition by connection_id, is_orig order by frame_number)
),

-- sequence numbers unwrapped into bigint, per direction
unwrapped as (
    select
        *,
        fwd_first_seq + sum(
            coalesce({{ tcp_seq_diff('tcp_seq', 'fwd_prev_seq') }}, 0)
        ) over (
            partition by connection_id, is_orig
            order by frame_number
            rows between unbounded preceding and current row
        ) as seq_u
    from directed
),

-- state of the other direction just before each packet
reverse_state as (
    select
        *,
        seq_u + payload_bytes + syn_fin_bytes as end_u,
        case
            when is_orig
                then {{ ignore_nulls(
                    'last_value', 'case when not is_orig then tcp_window end'
                ) }} over conn
            else {{ ignore_nulls(
                'last_value', 'case when is_orig then tcp_window end'
            ) }} over conn
        end as rev_window,
        case
            when is_orig
                then {{ ignore_nulls(
                    'last_value', 'case when not is_orig then tcp_ack end'
                ) }} over conn
            else {{ ignore_nulls(
                'last_value', 'case when is_orig then tcp_ack end'
            ) }} over conn
        end as rev_lastack,
        case
            when is_orig
                then {{ ignore_nulls(
                    'last_value', 'case when not is_orig then ts_ns end'
                ) }} over conn
            else {{ ignore_nulls(
                'last_value', 'case when is_orig then ts_ns end'
            ) }} over conn
        end as rev_lastack_ts_ns
    from unwrapped
    window conn as (
        partition by connection_id
        order by frame_number
        rows between unbounded preceding and 1 preceding
    )
),

-- zero window probes do not advance nextseq: a first pass finds them
probes_naive as (
    select
        *,
        payload_bytes = 1
        and seq_u = max(end_u)
            over (
                partition by connection_id, is_orig
                order by frame_number
                rows between unbounded preceding and 1 preceding
            )
        and coalesce(rev_window, 1) = 0 as is_probe_naive
    from reverse_state
),

next_seq as (
    select
        *,
        max(case when not is_probe_naive then end_u end) over dir_before
            as fwd_nextseq_u,
        max(case when not is_probe_naive then end_u end) over dir_through
            as nextseq_through_u
    from probes_naive
    window
        dir_before as (
            partition by connection_id, is_orig
            order by frame_number
            rows between unbounded preceding and 1 preceding
        ),
        dir_through as (
            partition by connection_id, is_orig
            order by frame_number
            rows between unbounded preceding and current row
        )
),

-- nextseqtime: when the highest nextseq so far was first reached
next_seq_time as (
    select
        *,
        {{ ignore_nulls(
            'last_value',
            'case when not is_probe_naive and (fwd_nextseq_u is null'
            ' or nextseq_through_u > fwd_nextseq_u) then ts_ns end'
        ) }} over (
            partition by connection_id, is_orig
            order by frame_number
            rows between unbounded preceding and 1 preceding
        ) as fwd_nextseq_ts_ns
    from next_seq
),

-- checks that look at this direction only
own_direction as (
    select
        *,
        coalesce(
            payload_bytes = 1
            and seq_u = fwd_nextseq_u
            and rev_window = 0,
            false
        ) as is_zero_window_probe,
        tcp_window = 0 and not has_syn_fin_rst as is_zero_window_raw,
        coalesce(
            seq_u > fwd_nextseq_u and not is_rst, false
        ) as is_lost_segment_raw,
        coalesce(
            payload_bytes <= 1
            and seq_u = fwd_nextseq_u - 1
            and not has_syn_fin_rst,
            false
        ) as is_keep_alive_raw,
        coalesce(
            payload_bytes = 0
            and seq_u = fwd_nextseq_u
            and tcp_ack = fwd_lastack
            and not has_syn_fin_rst,
            false
        ) as is_same_seq_ack
    from next_seq_time
),

own_flags as (
    select
        *,
        is_zero_window_raw and not is_zero_window_probe as is_zero_window,
        is_lost_segment_raw and not is_zero_window_probe as is_lost_segment,
        is_keep_alive_raw and not is_zero_window_probe as is_keep_alive,
        not is_zero_window_probe
        and is_same_seq_ack
        and tcp_window != 0
        and tcp_window != coalesce(fwd_window, -1) as is_window_update
    from own_direction
),

-- keep-alive ACK / zero-window-probe ACK need the other side's last flags
reverse_flags as (
    select
        *,
        case
            when is_orig
                then {{ ignore_nulls(
                    'last_value', 'case when not is_orig then is_keep_alive end'
                ) }} over conn
            else {{ ignore_nulls(
                'last_value', 'case when is_orig then is_keep_alive end'
            ) }} over conn
        end as rev_last_keep_alive,
        case
            when is_orig
                then {{ ignore_nulls(
                    'last_value',
                    'case when not is_orig then is_zero_window_probe end'
                ) }} over conn
            else {{ ignore_nulls(
                'last_value', 'case when is_orig then is_zero_window_probe end'
            ) }} over conn
        end as rev_last_zero_window_probe
    from own_flags
    window conn as (
        partition by connection_id
        order by frame_number
        rows between unbounded preceding and 1 preceding
    )
),

ack_flags as (
    select
        *,
        not is_zero_window_probe
        and is_same_seq_ack
        and tcp_window != 0
        and tcp_window = coalesce(fwd_window, -1)
        and coalesce(rev_last_keep_alive, false) as is_keep_alive_ack,
        not is_zero_window_probe
        and is_same_seq_ack
        and tcp_window = 0
        and coalesce(fwd_window, -1) = 0
        and coalesce(rev_last_zero_window_probe, false)
            as is_zero_window_probe_ack
    from reverse_flags
),

dup_acks as (
    select
        *,
        not is_zero_window_probe
        and not is_keep_alive_ack
        and not is_zero_window_probe_ack
        and is_same_seq_ack
        and tcp_window != 0
        and tcp_window = coalesce(fwd_window, -1) as is_duplicate_ack,
        sum(
            (fwd_lastack is null or tcp_ack != fwd_lastack)::integer
        ) over (
            partition by connection_id, is_orig
            order by frame_number
            rows between unbounded preceding and current row
        ) as ack_run
    from ack_flags
),

dup_ack_counts as (
    select
        *,
        sum(is_duplicate_ack::integer) over (
            partition by connection_id, is_orig, ack_run
            order by frame_number
            rows between unbounded preceding and current row
        ) as dupack_count
    from dup_acks
),

-- Wireshark's ts_first_rtt: first ACK without SYN after a pure SYN
first_rtt as (
    select
        connection_id,
        min(frame_number) as first_rtt_frame_number
    from (
        select
            connection_id,
            frame_number,
            is_ack,
            is_syn,
            bool_or(is_pure_syn) over (
                partition by connection_id
                order by frame_number
                rows between unbounded preceding and current row
            ) as has_seen_syn
        from dup_ack_counts
    ) as seen
    where is_ack and not is_syn and has_seen_syn
    group by all
),

retransmission_state as (
    select
        dup_ack_counts.*,
        first_rtt.first_rtt_frame_number,
        case
            when dup_ack_counts.is_orig
                then {{ ignore_nulls(
                    'last_value',
                    'case when not dup_ack_counts.is_orig then '
                    'dup_ack_counts.dupack_count end'
                ) }} over conn
            else {{ ignore_nulls(
                'last_value',
                'case when dup_ack_counts.is_orig then '
                'dup_ack_counts.dupack_count end'
            ) }} over conn
        end as rev_dupack_count,
        {{ ignore_nulls(
            'last_value',
            'case when dup_ack_counts.is_pure_syn'
            ' then dup_ack_counts.ts_ns end'
        ) }} over conn as last_syn_ts_ns
    from dup_ack_counts
    left join first_rtt
        on dup_ack_counts.connection_id = first_rtt.connection_id
    window conn as (
        partition by dup_ack_counts.connection_id
        order by dup_ack_counts.frame_number
        rows between unbounded preceding and 1 preceding
    )
),

thresholds as (
    select
        *,
        max(
            case
                when frame_number = first_rtt_frame_number
                    then ts_ns - last_syn_ts_ns
            end
        ) over (partition by connection_id) as first_rtt_ns,
        (payload_bytes > 0 or is_syn or is_fin)
        and not is_keep_alive as is_sequence_checked,
        coalesce(
            seq_u < fwd_nextseq_u
            and not (payload_bytes > 1 and seq_u = fwd_nextseq_u - 1),
            false
        ) as is_seq_not_advanced
    from retransmission_state
),

-- Wireshark >= 3.6 order: spurious, then fast (tcp.fastrt_supersedes_ooo),
-- then out-of-order, else a plain retransmission
spurious as (
    select
        *,
        is_sequence_checked
        and payload_bytes > 0
        and coalesce(rev_lastack, 0) != 0
        and {{ tcp_seq_diff(
            '(tcp_seq + payload_bytes) % 4294967296', 'rev_lastack'
        ) }} <= 0 as is_spurious_retransmission
    from thresholds
),

fast as (
    select
        *,
        is_sequence_checked
        and not is_spurious_retransmission
        and is_seq_not_advanced
        and coalesce(
            rev_dupack_count >= 2
            and rev_lastack = tcp_seq
            and ts_ns - rev_lastack_ts_ns < 20000000,
            false
        ) as is_fast_retransmission
    from spurious
),

out_of_order as (
    select
        *,
        is_sequence_checked
        and not is_spurious_retransmission
        and not is_fast_retransmission
        and is_seq_not_advanced
        and coalesce(
            ts_ns - fwd_nextseq_ts_ns < case
                when
                    frame_number > first_rtt_frame_number
                    and first_rtt_ns > 0
                    then first_rtt_ns
                else 3000000
            end
            and fwd_nextseq_u != seq_u + payload_bytes + syn_fin_bytes,
            false
        ) as is_out_of_order
    from fast
),

final as (
    select
        {{ star_except([
            'is_zero_window_raw', 'is_lost_segment_raw', 'is_keep_alive_raw',
            'is_probe_naive', 'nextseq_through_u', 'syn_fin_bytes',
            'has_syn_fin_rst', 'fwd_prev_seq', 'fwd_first_seq',
            'is_same_seq_ack', 'ack_run', 'is_sequence_checked',
        ]) }},
        is_spurious_retransmission
        or is_fast_retransmission
        or (
            is_sequence_checked
            and is_seq_not_advanced
            and not is_out_of_order
        ) as is_retransmission
    from out_of_order
)

select * from final
