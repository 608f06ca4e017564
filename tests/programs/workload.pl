#!/usr/bin/perl
# Hash- and string-heavy deterministic Perl workload for the preload tests.
# Prints one digest per phase; the output depends only on the computation.
# Set KPROG_MAPS=path to get a copy of /proc/self/maps taken mid-run.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);

my $seed = 12345;
sub rnd {    # deterministic LCG, independent of perl's srand
	my ($n) = @_;
	$seed = ($seed * 1103515245 + 12345) % 2147483648;
	return $seed % $n;
}

sub report {
	my ($name, @vals) = @_;
	printf "%-10s %s\n", $name, md5_hex(join("\x1f", @vals));
}

# 1. A big hash: insert, overwrite, delete half, iterate sorted.
{
	my %h;
	for my $i (1 .. 200000) {
		$h{ "key" . rnd(1000000) } .= "v$i,";
	}
	my @k = sort keys %h;
	delete @h{ @k[ grep { $_ % 2 } 0 .. $#k ] };
	my $sum = 0;
	$sum += length($h{$_}) for keys %h;
	report("hash", scalar(keys %h), $sum, @k[0 .. 20], map { $h{$_} // '' } @k[0 .. 200]);
}

# 2. Strings: concatenation growth, substr, regex substitutions, split/join.
{
	my $s = '';
	$s .= chr(97 + $_ % 26) x (1 + $_ % 7) for 1 .. 100000;
	my $copy = $s;
	(my $t = $s) =~ s/([aeiou])+/uc($1) . length($&)/ge;
	my @parts = split /[xyz]+/, $t;
	my $j = join '|', reverse @parts;
	$copy =~ tr/a-m/n-z/;
	my $sp = join '', map { sprintf("%08x%s", $_ * 2654435761 % 4294967296, "-" x ($_ % 5)) } 1 .. 50000;
	my @m = ($sp =~ /([0-9a-f]{8})-{3}/g);
	report("string", length($s), md5_hex($t), scalar(@parts), md5_hex($j), md5_hex($copy),
		md5_hex($sp), scalar(@m), @m[0 .. 9]);
}

# 3. Nested structures: arrays of hashes of arrays, sorted by several keys.
{
	my @recs;
	for my $i (1 .. 60000) {
		push @recs, { id => $i, grp => rnd(100), name => "n" . rnd(5000), vals => [ map { rnd(1000) } 1 .. (1 + $i % 8) ] };
	}
	my @sorted = sort { $a->{grp} <=> $b->{grp} or $a->{name} cmp $b->{name} or $a->{id} <=> $b->{id} } @recs;
	my %bygrp;
	push @{ $bygrp{ $_->{grp} } }, $_ for @recs;
	my @sums = map { my $t = 0; $t += $_ for map { @{ $_->{vals} } } @{ $bygrp{$_} }; $t } sort { $a <=> $b } keys %bygrp;
	report("nested", scalar(@sorted), (map { $_->{id} } @sorted[0 .. 50]), @sums);
}

if (my $f = $ENV{KPROG_MAPS}) {
	open(my $in, '<', '/proc/self/maps') or die "maps: $!";
	open(my $out, '>', $f) or die "$f: $!";
	print $out $_ while <$in>;
	close $out;
}

# 4. pack/unpack, sprintf, a word-frequency count, and memory churn.
{
	my $bin = pack("N*", map { $_ * 40503 % 65536 } 1 .. 200000);
	my @back = unpack("n*", $bin);
	my %freq;
	my $text = join ' ', map { ('alpha', 'beta', 'gamma', 'delta', 'epsilon')[ rnd(5) ] . rnd(300) } 1 .. 150000;
	$freq{$_}++ for split / /, $text;
	my @top = (sort { $freq{$b} <=> $freq{$a} or $a cmp $b } keys %freq)[0 .. 20];
	my $churn = 0;
	for my $round (1 .. 20) {
		my @tmp = map { "x" x ($_ % 300) } 1 .. 5000;
		$churn += length($tmp[ $round * 37 ]);
	}
	report("pack", length($bin), md5_hex($bin), scalar(@back), @back[0 .. 20], (map { "$_=$freq{$_}" } @top), $churn);
}
